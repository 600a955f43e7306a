package scheduler

import (
	corev1 "k8s.io/api/core/v1"
	volumehelpers "k8s.io/component-helpers/storage/volume"
)

// Reasons the volume checks give, upstream's words.
const (
	ReasonVolumeNodeConflict = "node(s) didn't match PersistentVolume's node affinity"
	ReasonVolumeBindConflict = "node(s) didn't find available persistent volumes to bind"
	ReasonVolumeMissing      = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
	// PreFilterUnboundImmediate rejects a pod on every node at once.
	PreFilterUnboundImmediate = "pod has unbound immediate PersistentVolumeClaims"
)

// noProvisioner is the provisioner name of classes that only bind existing volumes.
const noProvisioner = "kubernetes.io/no-provisioner"

// PodVolumes is what the scheduler knows about one pod's claims for one
// attempt, gathered from the API by the caller.
type PodVolumes struct {
	// PreFilter, when set, says why no node can take the pod at all (a
	// missing claim, or an unbound claim whose class binds immediately).
	PreFilter string
	// Bound are the volumes of the pod's bound claims; MissingVolume says a
	// bound claim's volume does not exist.
	Bound         []*corev1.PersistentVolume
	MissingVolume bool
	// Delayed are unbound claims whose class waits for the first consumer:
	// the scheduler chooses their node.
	Delayed []DelayedClaim
}

// DelayedClaim is an unbound WaitForFirstConsumer claim and what could serve it.
type DelayedClaim struct {
	Claim *corev1.PersistentVolumeClaim
	// Candidates are existing volumes of the claim's class not bound elsewhere.
	Candidates []*corev1.PersistentVolume
	// CanProvision says the class names a provisioner that will create a
	// volume on whatever node is chosen.
	CanProvision bool
}

// NewDelayedClaim describes claim of class sc with the given volumes.
func NewDelayedClaim(claim *corev1.PersistentVolumeClaim, provisioner string, volumes []*corev1.PersistentVolume) DelayedClaim {
	d := DelayedClaim{Claim: claim, CanProvision: provisioner != "" && provisioner != noProvisioner}
	class := volumehelpers.GetPersistentVolumeClaimClass(claim)
	for _, pv := range volumes {
		if volumehelpers.GetPersistentVolumeClass(pv) != class || pv.DeletionTimestamp != nil {
			continue
		}
		if pv.Spec.ClaimRef == nil || volumehelpers.IsVolumeBoundToClaim(pv, claim) {
			d.Candidates = append(d.Candidates, pv)
		}
	}
	return d
}

// filter is upstream's VolumeBinding check for one node.
func (v *PodVolumes) filter(node *corev1.Node) []string {
	if v == nil {
		return nil
	}
	var reasons []string
	if v.MissingVolume {
		reasons = append(reasons, ReasonVolumeMissing)
	}
	for _, pv := range v.Bound {
		if err := volumehelpers.CheckNodeAffinity(pv, node.Labels); err != nil {
			reasons = append(reasons, ReasonVolumeNodeConflict)
			break
		}
	}
	if _, ok := v.Plan(node); !ok {
		reasons = append(reasons, ReasonVolumeBindConflict)
	}
	return reasons
}

// Plan says, for a node, which existing volume each delayed claim gets (nil
// for claims to be provisioned there), and whether every claim is served.
func (v *PodVolumes) Plan(node *corev1.Node) (map[*corev1.PersistentVolumeClaim]*corev1.PersistentVolume, bool) {
	if v == nil || len(v.Delayed) == 0 {
		return nil, true
	}
	plan := map[*corev1.PersistentVolumeClaim]*corev1.PersistentVolume{}
	taken := map[string]*corev1.PersistentVolume{}
	for _, d := range v.Delayed {
		pv, err := volumehelpers.FindMatchingVolume(d.Claim, d.Candidates, node, taken, false, true)
		switch {
		case err == nil && pv != nil:
			taken[pv.Name] = pv
			plan[d.Claim] = pv
		case d.CanProvision:
			plan[d.Claim] = nil
		default:
			return nil, false
		}
	}
	return plan, true
}
