package deployment

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	ctrl "sigs.k8s.io/controller-runtime"
)

// newRSTarget is the size the new set should move to in this step of a
// rolling update; ok is false when it is already right.
func newRSTarget(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (int32, bool) {
	cur := replicasOf(newRS)
	switch {
	case cur == desiredOf(d):
		return cur, false
	case cur > desiredOf(d):
		return desiredOf(d), true
	}
	n := newRSReplicas(d, all, newRS)
	return n, n != cur
}

// oldScaleDown plans how far the old sets may shrink in this step without
// availability dropping under desired-maxUnavailable. First sets whose pods
// are not available shrink by their unavailable pods (they cost no
// availability), up to what the budget allows; then available pods go, oldest
// sets first, while available pods exceed the minimum. It returns the new size
// per set that changes.
func oldScaleDown(d *appsv1.Deployment, all, old []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) map[string]int32 {
	active := activeSets(old)
	if sumSpecReplicas(active) == 0 {
		return nil
	}
	minAvailable := desiredOf(d) - maxUnavailable(d)
	newUnavailable := replicasOf(newRS)
	if newRS != nil {
		newUnavailable -= newRS.Status.AvailableReplicas
	}
	budget := sumSpecReplicas(all) - minAvailable - newUnavailable
	if budget <= 0 {
		return nil
	}
	sorted := append([]*appsv1.ReplicaSet(nil), active...)
	sortOlderFirst(sorted)
	size := map[string]int32{}
	for _, rs := range sorted {
		size[rs.Name] = replicasOf(rs)
	}
	plan := map[string]int32{}

	cleaned := int32(0)
	for _, rs := range sorted {
		if cleaned >= budget {
			break
		}
		unhealthy := size[rs.Name] - rs.Status.AvailableReplicas
		if size[rs.Name] == 0 || unhealthy <= 0 {
			continue
		}
		down := min(budget-cleaned, unhealthy)
		size[rs.Name] -= down
		plan[rs.Name] = size[rs.Name]
		cleaned += down
	}

	available := sumStatus(all, statusAvailable)
	if available > minAvailable {
		total := available - minAvailable
		done := int32(0)
		for _, rs := range sorted {
			if done >= total {
				break
			}
			if size[rs.Name] == 0 {
				continue
			}
			down := min(size[rs.Name], total-done)
			size[rs.Name] -= down
			plan[rs.Name] = size[rs.Name]
			done += down
		}
	}
	return plan
}

// rolloutRolling runs one step of a RollingUpdate: grow the new set within
// maxSurge, else shrink old sets within maxUnavailable, clean up history once
// complete, and report status.
func (r *Reconciler) rolloutRolling(ctx context.Context, d *appsv1.Deployment, sets []*appsv1.ReplicaSet) (ctrl.Result, error) {
	newRS, old, err := r.newAndOldSets(ctx, d, sets, true)
	if err != nil {
		return ctrl.Result{}, err
	}
	all := append(append([]*appsv1.ReplicaSet(nil), old...), newRS)
	if target, ok := newRSTarget(d, all, newRS); ok {
		if _, err := r.scaleAndRecord(ctx, newRS, target, d); err != nil {
			return ctrl.Result{}, err
		}
		return r.syncRolloutStatus(ctx, d, all, newRS)
	}
	plan := oldScaleDown(d, all, old, newRS)
	for _, rs := range old {
		if size, ok := plan[rs.Name]; ok && size != replicasOf(rs) {
			if _, err := r.scaleAndRecord(ctx, rs, size, d); err != nil {
				return ctrl.Result{}, fmt.Errorf("scaling down %s: %w", rs.Name, err)
			}
		}
	}
	if len(plan) > 0 {
		return r.syncRolloutStatus(ctx, d, all, newRS)
	}
	if complete(d, &d.Status) {
		if err := r.cleanup(ctx, d, old); err != nil {
			return ctrl.Result{}, err
		}
	}
	return r.syncRolloutStatus(ctx, d, all, newRS)
}
