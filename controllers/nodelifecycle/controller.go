package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// DefaultGracePeriod is upstream's --node-monitor-grace-period.
const DefaultGracePeriod = 40 * time.Second

// NodeLeaseNamespace holds the kubelets' heartbeat Leases.
const NodeLeaseNamespace = corev1.NamespaceNodeLease

// podNodeIndex indexes pods by spec.nodeName under a name of this package's
// own, so it cannot clash with other controllers' indexes.
const podNodeIndex = "nodelifecycle/spec.nodeName"

// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups="",resources=nodes/status,verbs=update;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups="",resources=pods/status,verbs=update;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch;update

// Options configures the controller.
type Options struct {
	// GracePeriod is how long a kubelet may be silent before its node is
	// marked Unknown; zero means DefaultGracePeriod.
	GracePeriod time.Duration
}

// probe is the last heartbeat seen from a node and when this controller saw
// it change: the local clock decides silence, not the kubelet's.
type probe struct {
	heartbeat  string
	observedAt time.Time
}

// Reconciler keeps one node's health conditions and taints and evicts pods
// from it.
type Reconciler struct {
	client   client.Client
	recorder events.EventRecorder
	grace    time.Duration
	now      func() time.Time

	mu     sync.Mutex
	probes map[string]probe
	// ready is which nodes are Ready, from the node events: "some node is
	// Ready" is the one cluster-wide fact a node's taints depend on.
	ready readiness
}

// SetupWithManager adds the controller with upstream's defaults.
func SetupWithManager(mgr ctrl.Manager) error {
	return Setup(mgr, Options{})
}

// Setup adds the controller to mgr.
func Setup(mgr ctrl.Manager, opts Options) error {
	if opts.GracePeriod <= 0 {
		opts.GracePeriod = DefaultGracePeriod
	}
	r := &Reconciler{
		client:   mgr.GetClient(),
		recorder: mgr.GetEventRecorder("node-controller"),
		grace:    opts.GracePeriod,
		now:      time.Now,
		probes:   map[string]probe{},
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &corev1.Pod{}, podNodeIndex, func(o client.Object) []string {
		if n := o.(*corev1.Pod).Spec.NodeName; n != "" {
			return []string{n}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing pods by node: %w", err)
	}
	byName := func(name string) []reconcile.Request {
		if name == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: name}}}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("nodelifecycle").
		For(&corev1.Node{}).
		Watches(&coordinationv1.Lease{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return byName(o.GetName())
		}), builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetNamespace() == NodeLeaseNamespace
		}))).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			return byName(o.(*corev1.Pod).Spec.NodeName)
		}), builder.WithPredicates(predicate.Funcs{
			// Only a pod arriving on a node can need eviction from it.
			CreateFunc: func(e event.CreateEvent) bool { return true },
			UpdateFunc: func(e event.UpdateEvent) bool {
				return e.ObjectOld.(*corev1.Pod).Spec.NodeName != e.ObjectNew.(*corev1.Pod).Spec.NodeName
			},
			DeleteFunc:  func(event.DeleteEvent) bool { return false },
			GenericFunc: func(event.GenericEvent) bool { return false },
		})).
		// Whether any node is Ready decides NoExecute taints on all others:
		// when a node event flips it, every node is looked at again.
		Watches(&corev1.Node{}, handler.Funcs{
			CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				enqueueNames(q, r.ready.set(e.Object.GetName(), readyStatus(e.Object.(*corev1.Node)) == corev1.ConditionTrue, false))
			},
			UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				enqueueNames(q, r.ready.set(e.ObjectNew.GetName(), readyStatus(e.ObjectNew.(*corev1.Node)) == corev1.ConditionTrue, false))
			},
			DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				enqueueNames(q, r.ready.set(e.Object.GetName(), false, true))
			},
		}).
		WithOptions(controller.Options{MaxConcurrentReconciles: 5}).
		Complete(r)
}

// heartbeat summarizes what the kubelet last wrote: its Lease renewal and
// its Ready condition's heartbeat.
func heartbeat(node *corev1.Node, lease *coordinationv1.Lease) string {
	s := ""
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			s = c.LastHeartbeatTime.UTC().String()
		}
	}
	if lease != nil && lease.Spec.RenewTime != nil {
		s += "|" + lease.Spec.RenewTime.UTC().String()
	}
	return s
}

// observe records the node's heartbeat and returns when it last changed.
func (r *Reconciler) observe(name, hb string, now time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.probes[name]
	if !ok || p.heartbeat != hb {
		p = probe{heartbeat: hb, observedAt: now}
		r.probes[name] = p
	}
	return p.observedAt
}

// Reconcile runs the health, taint and eviction passes for one node.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	logger := log.FromContext(ctx)
	var node corev1.Node
	if err := r.client.Get(ctx, req.NamespacedName, &node); err != nil {
		if apierrors.IsNotFound(err) {
			r.mu.Lock()
			delete(r.probes, req.Name)
			r.mu.Unlock()
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	now := r.now()
	var lease *coordinationv1.Lease
	var l coordinationv1.Lease
	if err := r.client.Get(ctx, types.NamespacedName{Namespace: NodeLeaseNamespace, Name: node.Name}, &l); err == nil {
		lease = &l
	} else if !apierrors.IsNotFound(err) {
		return reconcile.Result{}, err
	}
	var requeue time.Duration
	observed := r.observe(node.Name, heartbeat(&node, lease), now)
	if silent := now.Sub(observed); silent >= r.grace {
		updated := node.DeepCopy()
		if MarkUnknown(updated, metav1.NewTime(now)) {
			logger.Info("node stopped posting status", "node", klog.KObj(&node), "silentFor", silent.Round(time.Second))
			if err := r.client.Status().Update(ctx, updated); err != nil {
				return reconcile.Result{}, fmt.Errorf("marking node %s unknown: %w", node.Name, err)
			}
			node = *updated
		}
	} else {
		requeue = r.grace - silent
	}

	allDown := false
	if readyStatus(&node) != corev1.ConditionTrue {
		allDown = !r.ready.anyReady()
	}
	taints, changed := ReconcileTaints(node.Spec.Taints, DesiredTaints(&node, allDown), metav1.NewTime(now))
	if changed {
		updated := node.DeepCopy()
		updated.Spec.Taints = taints
		if err := r.client.Update(ctx, updated); err != nil {
			return reconcile.Result{}, fmt.Errorf("updating taints of node %s: %w", node.Name, err)
		}
		node = *updated
	}

	if readyStatus(&node) != corev1.ConditionTrue || hasNoExecute(node.Spec.Taints) {
		next, err := r.podsPass(ctx, &node, now)
		if err != nil {
			return reconcile.Result{}, err
		}
		if next > 0 && (requeue == 0 || next < requeue) {
			requeue = next
		}
	}
	return reconcile.Result{RequeueAfter: requeue}, nil
}

// enqueueNames asks for a reconcile of each named node.
func enqueueNames(q workqueue.TypedRateLimitingInterface[reconcile.Request], names []string) {
	for _, n := range names {
		q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Name: n}})
	}
}

func hasNoExecute(taints []corev1.Taint) bool {
	for _, t := range taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			return true
		}
	}
	return false
}

// podsPass marks the node's pods not ready when the node is not, and evicts
// those whose toleration of its NoExecute taints has run out. It returns how
// long until the next eviction is due (0 for none).
func (r *Reconciler) podsPass(ctx context.Context, node *corev1.Node, now time.Time) (time.Duration, error) {
	var pods corev1.PodList
	if err := r.client.List(ctx, &pods, client.MatchingFields{podNodeIndex: node.Name}); err != nil {
		return 0, fmt.Errorf("listing pods of node %s: %w", node.Name, err)
	}
	var next time.Duration
	var errs []error
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		if readyStatus(node) != corev1.ConditionTrue {
			if err := r.markNotReady(ctx, pod, now); err != nil {
				errs = append(errs, err)
			}
		}
		at, evict := EvictionTime(pod, node.Spec.Taints, now)
		if !evict {
			continue
		}
		if wait := at.Sub(now); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		if err := r.evict(ctx, pod, now); err != nil {
			errs = append(errs, err)
		}
	}
	return next, errors.Join(errs...)
}

// markNotReady sets the pod's Ready condition False, as upstream does for
// pods on a node that stopped reporting, so endpoints stop sending traffic.
func (r *Reconciler) markNotReady(ctx context.Context, pod *corev1.Pod, now time.Time) error {
	updated := pod.DeepCopy()
	changed := false
	for i := range updated.Status.Conditions {
		c := &updated.Status.Conditions[i]
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionFalse {
			c.Status, c.LastTransitionTime = corev1.ConditionFalse, metav1.NewTime(now)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := r.client.Status().Update(ctx, updated); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("marking pod %s/%s not ready: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// evict records why and deletes the pod, as upstream's taint eviction does.
func (r *Reconciler) evict(ctx context.Context, pod *corev1.Pod, now time.Time) error {
	updated := pod.DeepCopy()
	updated.Status.Conditions = append(updated.Status.Conditions, corev1.PodCondition{
		Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(now),
		Reason: "DeletionByTaintManager", Message: "Taint manager: deleting due to NoExecute taint",
	})
	if err := r.client.Status().Patch(ctx, updated, client.StrategicMergeFrom(pod)); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("marking pod %s/%s for eviction: %w", pod.Namespace, pod.Name, err)
	}
	r.recorder.Eventf(pod, nil, corev1.EventTypeNormal, "TaintManagerEviction", "Deleting", "Marking for deletion Pod %s/%s", pod.Namespace, pod.Name)
	if err := r.client.Delete(ctx, pod, client.Preconditions{UID: &pod.UID}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("evicting pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
