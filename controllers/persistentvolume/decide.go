package persistentvolume

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	volumehelpers "k8s.io/component-helpers/storage/volume"
)

// VolumeAction is what the binder does with a volume in its current state.
type VolumeAction int

// What a volume needs, from VolumeNext.
const (
	// VolumeOK: nothing to do.
	VolumeOK VolumeAction = iota
	// VolumeAvailable: set phase Available (free, or pre-bound to a claim not yet there).
	VolumeAvailable
	// VolumeBound: set phase Bound.
	VolumeBound
	// VolumeReleased: its claim is gone; set phase Released.
	VolumeReleased
	// VolumeDelete: released with reclaim policy Delete; delete it.
	VolumeDelete
)

// VolumeNext decides a volume's next step from it and its claim (nil when
// the claim it references does not exist).
func VolumeNext(pv *corev1.PersistentVolume, claim *corev1.PersistentVolumeClaim) VolumeAction {
	ref := pv.Spec.ClaimRef
	switch {
	case ref == nil || ref.UID == "":
		if pv.Status.Phase != corev1.VolumeAvailable && pv.Status.Phase != corev1.VolumeFailed {
			return VolumeAvailable
		}
		return VolumeOK
	case claim != nil && claim.UID == ref.UID:
		if pv.Status.Phase != corev1.VolumeBound && claim.Spec.VolumeName == pv.Name {
			return VolumeBound
		}
		return VolumeOK
	}
	// The claim it was bound to is gone (or replaced by a namesake).
	switch pv.Status.Phase {
	case corev1.VolumeReleased:
		if pv.Spec.PersistentVolumeReclaimPolicy == corev1.PersistentVolumeReclaimDelete {
			return VolumeDelete
		}
		return VolumeOK
	case corev1.VolumeFailed:
		return VolumeOK
	}
	return VolumeReleased
}

// BestVolume picks the volume to bind a pending claim to, or nil: a volume
// pre-bound to the claim, else the smallest free volume that matches. As
// upstream's binder, it only considers volumes offering every access mode the
// claim asks for, and prefers those offering the fewest modes beyond them.
func BestVolume(claim *corev1.PersistentVolumeClaim, volumes []*corev1.PersistentVolume) (*corev1.PersistentVolume, error) {
	var preBound []*corev1.PersistentVolume
	for _, v := range volumes {
		if volumehelpers.IsVolumeBoundToClaim(v, claim) {
			preBound = append(preBound, v)
		}
	}
	if len(preBound) > 0 {
		if pv, err := volumehelpers.FindMatchingVolume(claim, preBound, nil, nil, false, true); err != nil || pv != nil {
			return pv, err
		}
	}
	byModes := map[int][]*corev1.PersistentVolume{}
	var counts []int
	for _, v := range volumes {
		if !volumehelpers.CheckAccessModes(claim, v) {
			continue
		}
		n := len(v.Spec.AccessModes)
		if _, ok := byModes[n]; !ok {
			counts = append(counts, n)
		}
		byModes[n] = append(byModes[n], v)
	}
	slices.Sort(counts)
	for _, n := range counts {
		pv, err := volumehelpers.FindMatchingVolume(claim, byModes[n], nil, nil, false, true)
		if err != nil || pv != nil {
			return pv, err
		}
	}
	return nil, nil
}

// BoundClaim returns claim as bound to pv: spec.volumeName and upstream's
// bind annotations. The status (phase, capacity, access modes) is BoundStatus.
func BoundClaim(claim *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) *corev1.PersistentVolumeClaim {
	c := claim.DeepCopy()
	c.Spec.VolumeName = pv.Name
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[volumehelpers.AnnBindCompleted] = "yes"
	if claim.Spec.VolumeName == "" {
		c.Annotations[volumehelpers.AnnBoundByController] = "yes"
	}
	return c
}

// BoundStatus is the status of a claim bound to pv.
func BoundStatus(claim *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) corev1.PersistentVolumeClaimStatus {
	s := *claim.Status.DeepCopy()
	s.Phase = corev1.ClaimBound
	s.AccessModes = pv.Spec.AccessModes
	s.Capacity = pv.Spec.Capacity.DeepCopy()
	return s
}
