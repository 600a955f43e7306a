package deployment

import (
	"context"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeseed/kubeseed/controllers/ownership"
)

// activeOrLatest is the one set that should take a scaling change alone: the
// only active set, else (none active) the new set or the newest old one. It
// is nil while several sets are active (a rollout in progress).
func activeOrLatest(newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if len(old) == 0 && newRS == nil {
		return nil
	}
	active := activeSets(append(append([]*appsv1.ReplicaSet(nil), old...), newRS))
	switch len(active) {
	case 0:
		if newRS != nil {
			return newRS
		}
		sorted := append([]*appsv1.ReplicaSet(nil), old...)
		sort.SliceStable(sorted, func(i, j int) bool { return olderFirst(sorted[j], sorted[i]) })
		return sorted[0]
	case 1:
		return active[0]
	}
	return nil
}

// saturated says the new set runs every desired pod, all available.
func saturated(d *appsv1.Deployment, newRS *appsv1.ReplicaSet) bool {
	if newRS == nil {
		return false
	}
	desired, ok := intAnnotation(newRS, DesiredReplicasAnnotation)
	return ok && desired == desiredOf(d) && replicasOf(newRS) == desiredOf(d) && newRS.Status.AvailableReplicas == desiredOf(d)
}

// isScalingEvent says spec.replicas changed since the active sets were last
// sized (their desired-replicas annotation disagrees).
func isScalingEvent(d *appsv1.Deployment, sets []*appsv1.ReplicaSet) bool {
	for _, rs := range activeSets(sets) {
		if desired, ok := intAnnotation(rs, DesiredReplicasAnnotation); ok && desired != desiredOf(d) {
			return true
		}
	}
	return false
}

// newAndOldSets finds the set running the Deployment's template, brings its
// annotations (revision, change-cause) and minReadySeconds up to date, and
// creates it when create is set and there is none. It records the revision on
// the Deployment.
func (r *Reconciler) newAndOldSets(ctx context.Context, d *appsv1.Deployment, sets []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	newRS, old := splitSets(d, sets)
	newRevision := maxRevision(old) + 1
	now := r.now()
	if newRS != nil {
		rs := newRS.DeepCopy()
		annChanged := setNewRSAnnotations(d, rs, newRevision, true)
		if annChanged || rs.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			rs.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			if err := r.Client.Update(ctx, rs); err != nil {
				return nil, nil, fmt.Errorf("updating replicaset %s: %w", rs.Name, err)
			}
			*newRS = *rs
		}
		needsUpdate := setDeploymentRevision(d, newRS.Annotations[RevisionAnnotation])
		if hasProgressDeadline(d) && getCondition(d.Status, appsv1.DeploymentProgressing) == nil {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonFoundNewReplicaSet,
				fmt.Sprintf("Found new replica set %q", newRS.Name), now))
			needsUpdate = true
		}
		if needsUpdate {
			if err := r.Client.Status().Update(ctx, d); err != nil {
				return nil, nil, fmt.Errorf("updating deployment %s: %w", d.Name, err)
			}
		}
		return newRS, old, nil
	}
	if !create {
		return nil, old, nil
	}

	hash := ComputeHash(&d.Spec.Template, d.Status.CollisionCount)
	template := d.Spec.Template.DeepCopy()
	template.Labels = withLabel(template.Labels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	selector := d.Spec.Selector.DeepCopy()
	selector.MatchLabels = withLabel(selector.MatchLabels, appsv1.DefaultDeploymentUniqueLabelKey, hash)
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			Labels:          template.Labels,
			OwnerReferences: []metav1.OwnerReference{ownership.NewControllerRef(d, appsv1.SchemeGroupVersion.String(), "Deployment")},
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        ptr.To[int32](0),
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        selector,
			Template:        *template,
		},
	}
	all := append(append([]*appsv1.ReplicaSet(nil), old...), rs)
	rs.Spec.Replicas = ptr.To(newRSReplicas(d, all, rs))
	setNewRSAnnotations(d, rs, newRevision, false)

	alreadyExists := false
	err := r.Client.Create(ctx, rs)
	if apierrors.IsAlreadyExists(err) {
		var existing appsv1.ReplicaSet
		if gerr := r.APIReader.Get(ctx, client.ObjectKeyFromObject(rs), &existing); gerr != nil {
			return nil, nil, fmt.Errorf("getting replicaset %s: %w", rs.Name, gerr)
		}
		if ref := metav1.GetControllerOf(&existing); ref != nil && ref.UID == d.UID && equalIgnoreHash(&existing.Spec.Template, &d.Spec.Template) {
			// Our own set, not yet in the cache.
			rs, alreadyExists, err = &existing, true, nil
		} else {
			// A different set holds the name: bump the collision count so the
			// next attempt hashes to a new name, as upstream does.
			d.Status.CollisionCount = ptr.To(ptr.Deref(d.Status.CollisionCount, 0) + 1)
			if uerr := r.Client.Status().Update(ctx, d); uerr != nil {
				return nil, nil, fmt.Errorf("updating collision count of %s: %w", d.Name, uerr)
			}
			return nil, nil, fmt.Errorf("hash collision for replicaset %s of deployment %s", rs.Name, d.Name)
		}
	}
	if err != nil {
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		if hasProgressDeadline(d) {
			setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionFalse, ReasonFailedRSCreate, msg, now))
			_ = r.Client.Status().Update(ctx, d)
		}
		r.Recorder.Eventf(d, corev1.EventTypeWarning, ReasonFailedRSCreate, "%s", msg)
		return nil, nil, fmt.Errorf("creating replicaset %s: %w", rs.Name, err)
	}
	if !alreadyExists && replicasOf(rs) > 0 {
		r.Recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled up replica set %s from 0 to %d", rs.Name, replicasOf(rs))
	}
	needsUpdate := setDeploymentRevision(d, fmt.Sprint(newRevision))
	if !alreadyExists && hasProgressDeadline(d) {
		setCondition(&d.Status, newCondition(appsv1.DeploymentProgressing, corev1.ConditionTrue, ReasonNewReplicaSetCreated,
			fmt.Sprintf("Created new replica set %q", rs.Name), now))
		needsUpdate = true
	}
	if needsUpdate {
		if err := r.Client.Status().Update(ctx, d); err != nil {
			return nil, nil, fmt.Errorf("updating deployment %s: %w", d.Name, err)
		}
	}
	return rs, old, nil
}

func withLabel(in map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(in)+1)
	for key, val := range in {
		out[key] = val
	}
	out[k] = v
	return out
}

// scaleAndRecord scales rs to newScale, recording a ScalingReplicaSet event.
func (r *Reconciler) scaleAndRecord(ctx context.Context, rs *appsv1.ReplicaSet, newScale int32, d *appsv1.Deployment) (bool, error) {
	if replicasOf(rs) == newScale {
		return false, nil
	}
	op := "down"
	if replicasOf(rs) < newScale {
		op = "up"
	}
	return r.scaleReplicaSet(ctx, rs, newScale, d, op)
}

// scaleReplicaSet sets rs's size and replicas annotations; it updates rs in
// place and reports whether the size changed.
func (r *Reconciler) scaleReplicaSet(ctx context.Context, rs *appsv1.ReplicaSet, newScale int32, d *appsv1.Deployment, op string) (bool, error) {
	sizeChange := replicasOf(rs) != newScale
	maxReplicas := desiredOf(d) + maxSurge(d)
	if !sizeChange && !replicasAnnotationsNeedUpdate(rs, desiredOf(d), maxReplicas) {
		return false, nil
	}
	oldScale := replicasOf(rs)
	updated := rs.DeepCopy()
	updated.Spec.Replicas = ptr.To(newScale)
	setReplicasAnnotations(updated, desiredOf(d), maxReplicas)
	if err := r.Client.Update(ctx, updated); err != nil {
		return false, fmt.Errorf("scaling replicaset %s to %d: %w", rs.Name, newScale, err)
	}
	*rs = *updated
	if sizeChange {
		ctrl.LoggerFrom(ctx).V(2).Info("scaled replicaset", "replicaset", klog.KObj(rs), "from", oldScale, "to", newScale)
		r.Recorder.Eventf(d, corev1.EventTypeNormal, "ScalingReplicaSet", "Scaled %s replica set %s from %d to %d", op, rs.Name, oldScale, newScale)
	}
	return sizeChange, nil
}

// scale handles a change of spec.replicas (or a paused Deployment): one
// active set takes it alone; during a rolling update it is spread over the
// active sets in proportion to their size.
func (r *Reconciler) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, old []*appsv1.ReplicaSet) error {
	if rs := activeOrLatest(newRS, old); rs != nil {
		_, err := r.scaleAndRecord(ctx, rs, desiredOf(d), d)
		return err
	}
	if saturated(d, newRS) {
		for _, rs := range activeSets(old) {
			if _, err := r.scaleAndRecord(ctx, rs, 0, d); err != nil {
				return err
			}
		}
		return nil
	}
	if !isRollingUpdate(d) {
		return nil
	}
	active := activeSets(append(append([]*appsv1.ReplicaSet(nil), old...), newRS))
	sizes := proportionalSizes(d, active)
	allowed := int32(0)
	if desiredOf(d) > 0 {
		allowed = desiredOf(d) + maxSurge(d)
	}
	op := ""
	if total := sumSpecReplicas(active); allowed > total {
		op = "up"
	} else if allowed < total {
		op = "down"
	}
	for _, rs := range active {
		if _, err := r.scaleReplicaSet(ctx, rs, sizes[rs.Name], d, op); err != nil {
			return err
		}
	}
	return nil
}

// sync is the path for scaling and paused Deployments: resize without rolling
// out, and report status.
func (r *Reconciler) sync(ctx context.Context, d *appsv1.Deployment, sets []*appsv1.ReplicaSet) (ctrl.Result, error) {
	newRS, old, err := r.newAndOldSets(ctx, d, sets, false)
	if err != nil {
		return ctrl.Result{}, err
	}
	if err := r.scale(ctx, d, newRS, old); err != nil {
		return ctrl.Result{}, err
	}
	if d.Spec.Paused {
		if err := r.cleanup(ctx, d, old); err != nil {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, r.syncStatus(ctx, d, append(old, newRS), newRS)
}

// syncStatus writes the summed status when it changed.
func (r *Reconciler) syncStatus(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) error {
	st := calculateStatus(d, all, newRS, r.now())
	if equality.Semantic.DeepEqual(st, d.Status) {
		return nil
	}
	d.Status = st
	if err := r.Client.Status().Update(ctx, d); err != nil {
		return fmt.Errorf("updating status of deployment %s: %w", d.Name, err)
	}
	return nil
}

// syncRolloutStatus writes the rollout status and asks to be called again
// when the progress deadline may pass.
func (r *Reconciler) syncRolloutStatus(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (ctrl.Result, error) {
	st, wait := rolloutStatus(d, all, newRS, r.now())
	if !equality.Semantic.DeepEqual(st, d.Status) {
		d.Status = st
		if err := r.Client.Status().Update(ctx, d); err != nil {
			return ctrl.Result{}, fmt.Errorf("updating status of deployment %s: %w", d.Name, err)
		}
	}
	return ctrl.Result{RequeueAfter: wait}, nil
}

// cleanup deletes old sets beyond revisionHistoryLimit.
func (r *Reconciler) cleanup(ctx context.Context, d *appsv1.Deployment, old []*appsv1.ReplicaSet) error {
	for _, rs := range setsToClean(d, old) {
		ctrl.LoggerFrom(ctx).V(2).Info("deleting old replicaset", "replicaset", klog.KObj(rs))
		if err := r.Client.Delete(ctx, rs, client.Preconditions{UID: &rs.UID}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting old replicaset %s: %w", rs.Name, err)
		}
	}
	return nil
}
