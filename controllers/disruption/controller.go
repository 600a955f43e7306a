package disruption

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	pdbhelper "k8s.io/component-helpers/apps/poddisruptionbudget"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Name is the controller's name in `kubeseed controllers`.
const Name = "disruption"

// syncFailedRetry is how soon a budget whose status could not be computed is
// tried again (upstream waits for the next pod or budget change; retrying
// also recovers from a transient API error nobody will re-trigger).
const syncFailedRetry = 30 * time.Second

// Reconciler keeps one PodDisruptionBudget's status current.
type Reconciler struct {
	Client   client.Client
	Recorder record.EventRecorder
	Mapper   apimeta.RESTMapper
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=replicationcontrollers,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=replicasets;deployments;statefulsets,verbs=get;list;watch
// +kubebuilder:rbac:groups=*,resources=*/scale,verbs=get
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch;update

// SetupWithManager registers the budget controller and the stale
// DisruptionTarget clean-up with mgr.
func SetupWithManager(mgr ctrl.Manager) error {
	r := &Reconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorderFor("controllermanager"), //nolint:staticcheck // core/v1 events, as upstream records them
		Mapper:   mgr.GetRESTMapper(),
	}
	err := ctrl.NewControllerManagedBy(mgr).
		Named(Name).
		For(&policyv1.PodDisruptionBudget{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.budgetsOf)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Complete(r)
	if err != nil {
		return err
	}
	return setupStale(mgr)
}

// budgetsOf maps a pod to the budgets in its namespace that select it.
func (r *Reconciler) budgetsOf(ctx context.Context, obj client.Object) []reconcile.Request {
	var list policyv1.PodDisruptionBudgetList
	if err := r.Client.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		sel, err := metav1.LabelSelectorAsSelector(list.Items[i].Spec.Selector)
		if err != nil || !sel.Matches(labels.Set(obj.GetLabels())) {
			continue
		}
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

// Reconcile recomputes one budget's status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pdb policyv1.PodDisruptionBudget
	if err := r.Client.Get(ctx, req.NamespacedName, &pdb); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	res, err := r.sync(ctx, &pdb)
	if err == nil || apierrors.IsConflict(err) {
		return res, err
	}
	// Fail closed: a budget we cannot compute allows no disruption.
	ctrl.LoggerFrom(ctx).Error(err, "syncing PodDisruptionBudget")
	if ferr := r.failSafe(ctx, &pdb, err); ferr != nil {
		return ctrl.Result{}, ferr
	}
	return ctrl.Result{RequeueAfter: syncFailedRetry}, nil
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reconciler) sync(ctx context.Context, pdb *policyv1.PodDisruptionBudget) (ctrl.Result, error) {
	pods, err := r.podsOf(ctx, pdb)
	if err != nil {
		r.Recorder.Eventf(pdb, corev1.EventTypeWarning, "NoPods", "Failed to get pods: %v", err)
		return ctrl.Result{}, err
	}
	if len(pods) == 0 {
		r.Recorder.Event(pdb, corev1.EventTypeNormal, "NoPods", "No matching pods found")
	}
	n, err := expectedAndDesired(pdb, pods, func(pod *corev1.Pod, ref *metav1.OwnerReference) (Scale, bool, error) {
		return r.scaleOf(ctx, pod.Namespace, ref)
	})
	if err != nil {
		r.Recorder.Eventf(pdb, corev1.EventTypeWarning, "CalculateExpectedPodCountFailed", "Failed to calculate the number of expected pods: %v", err)
		return ctrl.Result{}, err
	}
	if len(n.unmanaged) > 0 {
		r.Recorder.Eventf(pdb, corev1.EventTypeWarning, "UnmanagedPods", "Pods selected by this PodDisruptionBudget (selector: %v) were found "+
			"to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. "+
			"To account for these pods please set \".spec.minAvailable\" field of the PDB to an integer value.", pdb.Spec.Selector)
	}
	now := r.now()
	disrupted, recheck, overdue := disruptedStill(pods, pdb.Status.DisruptedPods, now)
	for _, name := range overdue {
		for _, p := range pods {
			if p.Name == name {
				r.Recorder.Eventf(p, corev1.EventTypeWarning, "NotDeleted", "Pod was expected by PDB %s/%s to be deleted but it wasn't", pdb.Namespace, pdb.Name)
			}
		}
	}
	current := healthy(pods, disrupted, now)
	if err := r.writeStatus(ctx, pdb, current, n.desired, n.expected, disrupted); err != nil {
		return ctrl.Result{}, err
	}
	if !recheck.IsZero() {
		return ctrl.Result{RequeueAfter: recheck.Sub(now)}, nil
	}
	return ctrl.Result{}, nil
}

// podsOf lists the pods a budget selects; a budget without a selector
// selects none.
func (r *Reconciler) podsOf(ctx context.Context, pdb *policyv1.PodDisruptionBudget) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		return nil, err
	}
	var list corev1.PodList
	if err := r.Client.List(ctx, &list, client.InNamespace(pdb.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil, err
	}
	pods := make([]*corev1.Pod, len(list.Items))
	for i := range list.Items {
		pods[i] = &list.Items[i]
	}
	return pods, nil
}

func (r *Reconciler) writeStatus(ctx context.Context, pdb *policyv1.PodDisruptionBudget, current, desired, expected int32, disrupted map[string]metav1.Time) error {
	allow := allowed(current, desired, expected)
	s := pdb.Status
	if s.CurrentHealthy == current && s.DesiredHealthy == desired && s.ExpectedPods == expected &&
		s.DisruptionsAllowed == allow && apiequality.Semantic.DeepEqual(s.DisruptedPods, disrupted) &&
		s.ObservedGeneration == pdb.Generation && pdbhelper.ConditionsAreUpToDate(pdb) {
		return nil
	}
	next := pdb.DeepCopy()
	next.Status = policyv1.PodDisruptionBudgetStatus{
		CurrentHealthy:     current,
		DesiredHealthy:     desired,
		ExpectedPods:       expected,
		DisruptionsAllowed: allow,
		DisruptedPods:      disrupted,
		ObservedGeneration: pdb.Generation,
		Conditions:         next.Status.Conditions,
	}
	pdbhelper.UpdateDisruptionAllowedCondition(next)
	return r.Client.Status().Update(ctx, next)
}

func (r *Reconciler) failSafe(ctx context.Context, pdb *policyv1.PodDisruptionBudget, cause error) error {
	next := pdb.DeepCopy()
	next.Status.DisruptionsAllowed = 0
	apimeta.SetStatusCondition(&next.Status.Conditions, metav1.Condition{
		Type:               policyv1.DisruptionAllowedCondition,
		Status:             metav1.ConditionFalse,
		Reason:             policyv1.SyncFailedReason,
		Message:            cause.Error(),
		ObservedGeneration: next.Status.ObservedGeneration,
	})
	return r.Client.Status().Update(ctx, next)
}

// scaleOf finds the replicas of the controller ref names. A ReplicaSet that a
// Deployment controls stands for the Deployment, whose scale is the one a
// user sets. Kinds other than the built-in ones are asked for their scale
// subresource, so custom workloads with one are counted too.
func (r *Reconciler) scaleOf(ctx context.Context, ns string, ref *metav1.OwnerReference) (Scale, bool, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return Scale{}, false, err
	}
	key := types.NamespacedName{Namespace: ns, Name: ref.Name}
	switch {
	case gv.Group == "" && ref.Kind == "ReplicationController":
		var rc corev1.ReplicationController
		if err := r.Client.Get(ctx, key, &rc); err != nil || rc.UID != ref.UID {
			return Scale{}, false, client.IgnoreNotFound(err)
		}
		return Scale{UID: rc.UID, Replicas: replicas(rc.Spec.Replicas)}, true, nil
	case (gv.Group == "apps" || gv.Group == "extensions") && ref.Kind == "ReplicaSet":
		var rs appsv1.ReplicaSet
		if err := r.Client.Get(ctx, key, &rs); err != nil || rs.UID != ref.UID {
			return Scale{}, false, client.IgnoreNotFound(err)
		}
		if owner := metav1.GetControllerOf(&rs); owner != nil && owner.Kind == "Deployment" {
			var d appsv1.Deployment
			err := r.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: owner.Name}, &d)
			if err == nil && d.UID == owner.UID {
				return Scale{UID: d.UID, Replicas: replicas(d.Spec.Replicas)}, true, nil
			}
			if client.IgnoreNotFound(err) != nil {
				return Scale{}, false, err
			}
		}
		return Scale{UID: rs.UID, Replicas: replicas(rs.Spec.Replicas)}, true, nil
	case gv.Group == "apps" && ref.Kind == "StatefulSet":
		var ss appsv1.StatefulSet
		if err := r.Client.Get(ctx, key, &ss); err != nil || ss.UID != ref.UID {
			return Scale{}, false, client.IgnoreNotFound(err)
		}
		return Scale{UID: ss.UID, Replicas: replicas(ss.Spec.Replicas)}, true, nil
	}
	return r.scaleSubresource(ctx, gv, ns, ref)
}

func (r *Reconciler) scaleSubresource(ctx context.Context, gv schema.GroupVersion, ns string, ref *metav1.OwnerReference) (Scale, bool, error) {
	if _, err := r.Mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: ref.Kind}, gv.Version); err != nil {
		return Scale{}, false, err
	}
	owner := &unstructured.Unstructured{}
	owner.SetGroupVersionKind(gv.WithKind(ref.Kind))
	owner.SetNamespace(ns)
	owner.SetName(ref.Name)
	scale := &unstructured.Unstructured{}
	scale.SetGroupVersionKind(schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"})
	if err := r.Client.SubResource("scale").Get(ctx, owner, scale); err != nil {
		if apierrors.IsNotFound(err) {
			return Scale{}, false, nil
		}
		return Scale{}, false, fmt.Errorf("%s %s: %w", ref.Kind, ref.Name, err)
	}
	if scale.GetUID() != ref.UID {
		return Scale{}, false, nil
	}
	n, _, _ := unstructured.NestedInt64(scale.Object, "spec", "replicas")
	return Scale{UID: scale.GetUID(), Replicas: int32(n)}, true, nil
}

// replicas reads a spec.replicas as the API defaults it.
func replicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}
