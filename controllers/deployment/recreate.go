package deployment

import (
	"context"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
)

// oldPodsRunning says a Recreate rollout must still wait: an old set reports
// pods, or a pod of an old set exists that has not finished (terminating pods
// included, so old and new pods never run together).
func oldPodsRunning(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet, podsBySet map[types.UID][]*corev1.Pod) bool {
	if sumStatus(old, statusReplicas) > 0 {
		return true
	}
	for uid, pods := range podsBySet {
		if newRS != nil && uid == newRS.UID {
			continue
		}
		for _, p := range pods {
			if p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
				return true
			}
		}
	}
	return false
}

// rolloutRecreate runs one step of a Recreate rollout: scale every old set to
// zero, wait until their pods are gone, then create or scale up the new set.
func (r *Reconciler) rolloutRecreate(ctx context.Context, d *appsv1.Deployment, sets []*appsv1.ReplicaSet, podsBySet map[types.UID][]*corev1.Pod) (ctrl.Result, error) {
	newRS, old, err := r.newAndOldSets(ctx, d, sets, false)
	if err != nil {
		return ctrl.Result{}, err
	}
	all := append(append([]*appsv1.ReplicaSet(nil), old...), newRS)
	scaled := false
	for _, rs := range activeSets(old) {
		changed, err := r.scaleAndRecord(ctx, rs, 0, d)
		if err != nil {
			return ctrl.Result{}, err
		}
		scaled = scaled || changed
	}
	if scaled || oldPodsRunning(newRS, old, podsBySet) {
		return r.syncRolloutStatus(ctx, d, all, newRS)
	}
	if newRS == nil {
		if newRS, old, err = r.newAndOldSets(ctx, d, sets, true); err != nil {
			return ctrl.Result{}, err
		}
		all = append(append([]*appsv1.ReplicaSet(nil), old...), newRS)
	}
	if _, err := r.scaleAndRecord(ctx, newRS, desiredOf(d), d); err != nil {
		return ctrl.Result{}, err
	}
	if complete(d, &d.Status) {
		if err := r.cleanup(ctx, d, old); err != nil {
			return ctrl.Result{}, err
		}
	}
	return r.syncRolloutStatus(ctx, d, all, newRS)
}
