package garbagecollector

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ownerState is what a live lookup found for one owner reference.
type ownerState int

const (
	// ownerSolid: the owner exists and is not being deleted in the foreground.
	ownerSolid ownerState = iota
	// ownerDangling: no object with that uid exists.
	ownerDangling
	// ownerWaiting: the owner exists and waits in foreground deletion for its
	// dependents to go.
	ownerWaiting
)

// actionKind is what to do with a dependent.
type actionKind int

const (
	keep actionKind = iota
	// removeRefs drops the references to dangling and waiting owners from a
	// dependent that still has a solid owner.
	removeRefs
	// deleteObject deletes the dependent with the given propagation.
	deleteObject
)

type action struct {
	kind   actionKind
	refs   []types.UID
	policy metav1.DeletionPropagation
}

// Finalizers the API server adds for foreground and orphan deletion.
const (
	finalizerForeground = metav1.FinalizerDeleteDependents // "foregroundDeletion"
	finalizerOrphan     = metav1.FinalizerOrphanDependents // "orphan"
)

func hasFinalizer(m metav1.Object, f string) bool {
	for _, x := range m.GetFinalizers() {
		if x == f {
			return true
		}
	}
	return false
}

// decideDependent applies upstream's rules to a dependent not being deleted,
// given what each owner reference resolved to: any solid owner keeps it (and
// its references to gone or departing owners are dropped); otherwise it is
// deleted, in the foreground when an owner waits for it and it has
// dependents of its own (so the owner keeps waiting for those too), else by
// its own finalizers' choice, background by default.
func decideDependent(obj metav1.Object, states map[types.UID]ownerState, hasDependents bool) action {
	refs := obj.GetOwnerReferences()
	if len(refs) == 0 {
		return action{kind: keep}
	}
	var solid int
	var stale []types.UID
	waiting := false
	for _, r := range refs {
		switch states[r.UID] {
		case ownerSolid:
			solid++
		case ownerDangling:
			stale = append(stale, r.UID)
		case ownerWaiting:
			waiting = true
			stale = append(stale, r.UID)
		}
	}
	if solid > 0 {
		if len(stale) == 0 {
			return action{kind: keep}
		}
		return action{kind: removeRefs, refs: stale}
	}
	policy := metav1.DeletePropagationBackground
	switch {
	case waiting && hasDependents:
		policy = metav1.DeletePropagationForeground
	case hasFinalizer(obj, finalizerOrphan):
		policy = metav1.DeletePropagationOrphan
	case hasFinalizer(obj, finalizerForeground):
		policy = metav1.DeletePropagationForeground
	}
	return action{kind: deleteObject, policy: policy}
}

// blocks says whether a dependent holds up its owner's foreground deletion:
// it still exists and its reference to the owner sets blockOwnerDeletion.
func blocks(dependentRefs []metav1.OwnerReference, owner types.UID) bool {
	for _, r := range dependentRefs {
		if r.UID == owner && r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
			return true
		}
	}
	return false
}

// withoutRefs returns refs minus those to the given uids.
func withoutRefs(refs []metav1.OwnerReference, drop ...types.UID) []metav1.OwnerReference {
	gone := map[types.UID]bool{}
	for _, u := range drop {
		gone[u] = true
	}
	out := []metav1.OwnerReference{}
	for _, r := range refs {
		if !gone[r.UID] {
			out = append(out, r)
		}
	}
	return out
}

// withoutFinalizer returns the finalizers minus f.
func withoutFinalizer(fs []string, f string) []string {
	out := []string{}
	for _, x := range fs {
		if x != f {
			out = append(out, x)
		}
	}
	return out
}
