package deployment

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kubeseed/kubeseed/controllers/ownership"
)

// Name is the controller's name in events.
const Name = "deployment-controller"

// Reconciler rolls Deployments out through ReplicaSets.
type Reconciler struct {
	Client    client.Client
	APIReader client.Reader
	Recorder  record.EventRecorder
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=apps,resources=deployments/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps,resources=deployments/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=replicasets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch;update

// SetupWithManager registers the controller with mgr.
func SetupWithManager(mgr ctrl.Manager) error {
	r := &Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorderFor(Name), //nolint:staticcheck // core/v1 events, as upstream records them
	}
	return r.SetupWithManager(mgr)
}

// SetupWithManager registers r with mgr.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := ownership.IndexControllerUID(mgr, &appsv1.ReplicaSet{}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("deployment").
		For(&appsv1.Deployment{}).
		Watches(&appsv1.ReplicaSet{}, ownership.Handler(ownership.Owner{
			APIVersion: appsv1.SchemeGroupVersion.String(),
			Kind:       "Deployment",
			Matching:   r.matchingDeployments,
		})).
		Watches(&corev1.Pod{}, r.podGoneHandler()).
		WithOptions(controller.Options{MaxConcurrentReconciles: 5}).
		Complete(r)
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reconciler) matchingDeployments(ctx context.Context, obj client.Object) []types.NamespacedName {
	var list appsv1.DeploymentList
	if err := r.Client.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	var out []types.NamespacedName
	for i := range list.Items {
		if ownership.SelectorMatches(list.Items[i].Spec.Selector, obj.GetLabels()) {
			out = append(out, client.ObjectKeyFromObject(&list.Items[i]))
		}
	}
	return out
}

// podGoneHandler wakes a Recreate Deployment when one of its old pods is
// deleted or finishes, which is what it waits for before starting new pods.
func (r *Reconciler) podGoneHandler() handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]
	enqueue := func(ctx context.Context, obj client.Object, q queue) {
		ref := metav1.GetControllerOfNoCopy(obj)
		if ref == nil || ref.Kind != "ReplicaSet" {
			return
		}
		var rs appsv1.ReplicaSet
		if err := r.Client.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: ref.Name}, &rs); err != nil {
			return
		}
		if dref := metav1.GetControllerOfNoCopy(&rs); dref != nil && dref.Kind == "Deployment" {
			q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: rs.Namespace, Name: dref.Name}})
		}
	}
	return handler.Funcs{
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q queue) {
			if p, ok := e.ObjectNew.(*corev1.Pod); ok && (p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed) {
				enqueue(ctx, p, q)
			}
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q queue) { enqueue(ctx, e.Object, q) },
	}
}

// Reconcile syncs one Deployment, following upstream's syncDeployment.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var cached appsv1.Deployment
	if err := r.Client.Get(ctx, req.NamespacedName, &cached); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	d := cached.DeepCopy()
	res, err := r.syncDeployment(ctx, d)
	if apierrors.IsConflict(err) {
		// A write raced a newer version; the watch brings it, try again.
		return ctrl.Result{RequeueAfter: 50 * time.Millisecond}, nil
	}
	return res, err
}

func (r *Reconciler) syncDeployment(ctx context.Context, d *appsv1.Deployment) (ctrl.Result, error) {
	everything := metav1.LabelSelector{}
	if d.Spec.Selector == nil || equality.Semantic.DeepEqual(*d.Spec.Selector, everything) {
		r.Recorder.Eventf(d, corev1.EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			return ctrl.Result{}, r.Client.Status().Update(ctx, d)
		}
		return ctrl.Result{}, nil
	}
	selector, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return ctrl.Result{}, nil // validated by the API server; nothing to act on
	}
	sets, err := r.claimReplicaSets(ctx, d, selector)
	if err != nil {
		return ctrl.Result{}, err
	}
	if d.DeletionTimestamp != nil {
		newRS, old, err := r.newAndOldSets(ctx, d, sets, false)
		if err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, r.syncStatus(ctx, d, append(old, newRS), newRS)
	}
	if pausedCondition(d, r.now()) {
		if err := r.Client.Status().Update(ctx, d); err != nil {
			return ctrl.Result{}, fmt.Errorf("updating paused condition of %s: %w", d.Name, err)
		}
	}
	if d.Spec.Paused {
		return r.sync(ctx, d, sets)
	}
	if isScalingEvent(d, sets) {
		return r.sync(ctx, d, sets)
	}
	switch d.Spec.Strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		pods, err := r.podsBySet(ctx, d, selector, sets)
		if err != nil {
			return ctrl.Result{}, err
		}
		return r.rolloutRecreate(ctx, d, sets, pods)
	default:
		return r.rolloutRolling(ctx, d, sets)
	}
}

// claimReplicaSets returns the sets the Deployment controls, adopting
// matching orphans and releasing sets that stopped matching.
func (r *Reconciler) claimReplicaSets(ctx context.Context, d *appsv1.Deployment, selector labels.Selector) ([]*appsv1.ReplicaSet, error) {
	var list, orphans appsv1.ReplicaSetList
	if err := ownership.ListCandidates(ctx, r.Client, d.Namespace, d, selector, &list, &orphans); err != nil {
		return nil, fmt.Errorf("listing replicasets of %s: %w", d.Name, err)
	}
	list.Items = append(list.Items, orphans.Items...)
	candidates := make([]*appsv1.ReplicaSet, 0, len(list.Items))
	for i := range list.Items {
		candidates = append(candidates, &list.Items[i])
	}
	ref := ownership.NewControllerRef(d, appsv1.SchemeGroupVersion.String(), "Deployment")
	return ownership.Claim(ctx, r.Client, d, ref, selector, candidates,
		ownership.RecheckOwner(r.APIReader, &appsv1.Deployment{}, d))
}

// podsBySet groups the Deployment's pods by the uid of their controlling set.
func (r *Reconciler) podsBySet(ctx context.Context, d *appsv1.Deployment, selector labels.Selector, sets []*appsv1.ReplicaSet) (map[types.UID][]*corev1.Pod, error) {
	var pods corev1.PodList
	if err := r.Client.List(ctx, &pods, client.InNamespace(d.Namespace), client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, fmt.Errorf("listing pods of %s: %w", d.Name, err)
	}
	owned := map[types.UID]bool{}
	for _, rs := range sets {
		owned[rs.UID] = true
	}
	out := map[types.UID][]*corev1.Pod{}
	for i := range pods.Items {
		if ref := metav1.GetControllerOfNoCopy(&pods.Items[i]); ref != nil && owned[ref.UID] {
			out[ref.UID] = append(out[ref.UID], &pods.Items[i])
		}
	}
	return out, nil
}
