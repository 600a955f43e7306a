package disruption

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// staleReconciler resets a DisruptionTarget=True condition that an eviction
// (or a preemption) set on a pod which then was not deleted, so the pod does
// not look doomed forever.
type staleReconciler struct {
	client client.Client
	now    func() time.Time
}

func setupStale(mgr ctrl.Manager) error {
	r := &staleReconciler{client: mgr.GetClient(), now: time.Now}
	return ctrl.NewControllerManagedBy(mgr).
		Named(Name+"-stale-condition").
		For(&corev1.Pod{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			_, ok := staleIn(o.(*corev1.Pod), time.Now())
			return ok
		}))).
		Complete(r)
}

// staleIn says whether pod carries a DisruptionTarget=True condition that
// this controller owns, and how long until it is stale. Conditions the
// kubelet set, and those of pods already deleting or finished, are left.
func staleIn(pod *corev1.Pod, now time.Time) (time.Duration, bool) {
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0, false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type != corev1.DisruptionTarget {
			continue
		}
		if c.Status != corev1.ConditionTrue || c.Reason == corev1.PodReasonTerminationByKubelet {
			return 0, false
		}
		return max(StaleDisruptionTimeout-now.Sub(c.LastTransitionTime.Time), 0), true
	}
	return 0, false
}

func (r *staleReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pod corev1.Pod
	if err := r.client.Get(ctx, req.NamespacedName, &pod); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := r.now()
	wait, ok := staleIn(&pod, now)
	if !ok {
		return ctrl.Result{}, nil
	}
	if wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	for i := range pod.Status.Conditions {
		c := &pod.Status.Conditions[i]
		if c.Type == corev1.DisruptionTarget {
			*c = corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionFalse,
				LastTransitionTime: metav1.NewTime(now), ObservedGeneration: c.ObservedGeneration}
		}
	}
	return ctrl.Result{}, r.client.Status().Update(ctx, &pod)
}
