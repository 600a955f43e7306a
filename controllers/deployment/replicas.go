package deployment

import (
	"math"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Annotations and labels the controller owns, upstream's names.
const (
	RevisionAnnotation        = "deployment.kubernetes.io/revision"
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	MaxReplicasAnnotation     = "deployment.kubernetes.io/max-replicas"
	ChangeCauseAnnotation     = "kubernetes.io/change-cause"
	lastAppliedAnnotation     = "kubectl.kubernetes.io/last-applied-configuration"
	rollbackToAnnotation      = "deprecated.deployment.rollback.to"
)

func replicasOf(rs *appsv1.ReplicaSet) int32 {
	if rs == nil || rs.Spec.Replicas == nil {
		return 0
	}
	return *rs.Spec.Replicas
}

func desiredOf(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func isRollingUpdate(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType
}

// resolveFenceposts turns maxSurge and maxUnavailable into pod counts for
// desired replicas: surge rounds up, unavailable rounds down, and when both
// come to zero unavailable becomes 1 so a rollout can move at all.
func resolveFenceposts(maxSurge, maxUnavailable *intstr.IntOrString, desired int32) (int32, int32) {
	zero := intstr.FromInt32(0)
	surge, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(maxSurge, zero), int(desired), true)
	if err != nil {
		surge = 0
	}
	unavailable, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(maxUnavailable, zero), int(desired), false)
	if err != nil {
		unavailable = 0
	}
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return int32(surge), int32(unavailable)
}

// maxSurge is how many pods above desired a rolling update may run.
func maxSurge(d *appsv1.Deployment) int32 {
	if !isRollingUpdate(d) || d.Spec.Strategy.RollingUpdate == nil {
		return 0
	}
	s, _ := resolveFenceposts(d.Spec.Strategy.RollingUpdate.MaxSurge, d.Spec.Strategy.RollingUpdate.MaxUnavailable, desiredOf(d))
	return s
}

// maxUnavailable is how many of the desired pods may be unavailable.
func maxUnavailable(d *appsv1.Deployment) int32 {
	if !isRollingUpdate(d) || d.Spec.Strategy.RollingUpdate == nil || desiredOf(d) == 0 {
		return 0
	}
	_, u := resolveFenceposts(d.Spec.Strategy.RollingUpdate.MaxSurge, d.Spec.Strategy.RollingUpdate.MaxUnavailable, desiredOf(d))
	return min(u, desiredOf(d))
}

func sumSpecReplicas(sets []*appsv1.ReplicaSet) int32 {
	var n int32
	for _, rs := range sets {
		n += replicasOf(rs)
	}
	return n
}

func sumStatus(sets []*appsv1.ReplicaSet, f func(appsv1.ReplicaSetStatus) int32) int32 {
	var n int32
	for _, rs := range sets {
		if rs != nil {
			n += f(rs.Status)
		}
	}
	return n
}

func statusReplicas(s appsv1.ReplicaSetStatus) int32  { return s.Replicas }
func statusReady(s appsv1.ReplicaSetStatus) int32     { return s.ReadyReplicas }
func statusAvailable(s appsv1.ReplicaSetStatus) int32 { return s.AvailableReplicas }

// activeSets drops nil sets and those scaled to zero.
func activeSets(sets []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range sets {
		if rs != nil && replicasOf(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// olderFirst orders by creation time, then name.
func olderFirst(a, b *appsv1.ReplicaSet) bool {
	if a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.Name < b.Name
	}
	return a.CreationTimestamp.Before(&b.CreationTimestamp)
}

func sortOlderFirst(sets []*appsv1.ReplicaSet) {
	sort.SliceStable(sets, func(i, j int) bool { return olderFirst(sets[i], sets[j]) })
}

// newRSReplicas is how many replicas the new ReplicaSet may have now: all of
// them for Recreate; for RollingUpdate as many as fit under desired+maxSurge.
func newRSReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	if !isRollingUpdate(d) {
		return desiredOf(d)
	}
	current := sumSpecReplicas(all)
	maxTotal := desiredOf(d) + maxSurge(d)
	if current >= maxTotal {
		return replicasOf(newRS)
	}
	up := min(maxTotal-current, desiredOf(d)-replicasOf(newRS))
	return replicasOf(newRS) + up
}

// proportionalSizes spreads a change of desired replicas over the active sets
// of a rolling update in proportion to their size, as upstream's scale does:
// larger sets first (newer first when growing, older first when shrinking),
// each gets its share by its max-replicas annotation, and the rounding
// leftover goes to the first. It returns the new size per set name.
func proportionalSizes(d *appsv1.Deployment, active []*appsv1.ReplicaSet) map[string]int32 {
	allowed := int32(0)
	if desiredOf(d) > 0 {
		allowed = desiredOf(d) + maxSurge(d)
	}
	toAdd := allowed - sumSpecReplicas(active)
	sets := append([]*appsv1.ReplicaSet(nil), active...)
	sort.SliceStable(sets, func(i, j int) bool {
		a, b := sets[i], sets[j]
		if replicasOf(a) != replicasOf(b) {
			return replicasOf(a) > replicasOf(b)
		}
		if toAdd > 0 {
			return olderFirst(b, a)
		}
		return olderFirst(a, b)
	})
	sizes := map[string]int32{}
	added := int32(0)
	for _, rs := range sets {
		p := int32(0)
		if toAdd != 0 {
			p = proportion(rs, d, toAdd, added)
			added += p
		}
		sizes[rs.Name] = replicasOf(rs) + p
	}
	if toAdd != 0 && len(sets) > 0 {
		first := sets[0].Name
		sizes[first] = max(sizes[first]+toAdd-added, 0)
	}
	return sizes
}

// proportion is one set's share of toAdd, bounded by what is left.
func proportion(rs *appsv1.ReplicaSet, d *appsv1.Deployment, toAdd, added int32) int32 {
	if replicasOf(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	fraction := setFraction(rs, d)
	left := toAdd - added
	if toAdd > 0 {
		return min(fraction, left)
	}
	return max(fraction, left)
}

// setFraction is how much rs would grow (or shrink) if it kept its share of
// the deployment's previous maximum size.
func setFraction(rs *appsv1.ReplicaSet, d *appsv1.Deployment) int32 {
	if desiredOf(d) == 0 {
		return -replicasOf(rs)
	}
	deploymentMax := desiredOf(d) + maxSurge(d)
	annotated, ok := intAnnotation(rs, MaxReplicasAnnotation)
	if !ok {
		annotated = d.Status.Replicas
	}
	if annotated == 0 {
		return 0
	}
	size := float64(replicasOf(rs)*deploymentMax) / float64(annotated)
	return int32(math.Round(size)) - replicasOf(rs)
}
