package garbagecollector

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func obj(finalizers []string, owners ...types.UID) *metav1.ObjectMeta {
	m := &metav1.ObjectMeta{Name: "x", Finalizers: finalizers}
	for _, o := range owners {
		m.OwnerReferences = append(m.OwnerReferences, metav1.OwnerReference{UID: o, BlockOwnerDeletion: ptr.To(true)})
	}
	return m
}

func TestDecideDependent(t *testing.T) {
	cases := []struct {
		name          string
		obj           *metav1.ObjectMeta
		states        map[types.UID]ownerState
		hasDependents bool
		want          action
	}{
		{"no owners", obj(nil), nil, false, action{kind: keep}},
		{"solid owner", obj(nil, "a"), map[types.UID]ownerState{"a": ownerSolid}, false, action{kind: keep}},
		{"owner gone: background", obj(nil, "a"), map[types.UID]ownerState{"a": ownerDangling}, true,
			action{kind: deleteObject, policy: metav1.DeletePropagationBackground}},
		{"one of two owners gone: drop its reference", obj(nil, "a", "b"), map[types.UID]ownerState{"a": ownerSolid, "b": ownerDangling}, false,
			action{kind: removeRefs, refs: []types.UID{"b"}}},
		{"owner waiting, dependent has dependents: foreground", obj(nil, "a"), map[types.UID]ownerState{"a": ownerWaiting}, true,
			action{kind: deleteObject, policy: metav1.DeletePropagationForeground}},
		{"owner waiting, leaf dependent: background", obj(nil, "a"), map[types.UID]ownerState{"a": ownerWaiting}, false,
			action{kind: deleteObject, policy: metav1.DeletePropagationBackground}},
		{"dependent asks to orphan its own dependents", obj([]string{"orphan"}, "a"), map[types.UID]ownerState{"a": ownerDangling}, true,
			action{kind: deleteObject, policy: metav1.DeletePropagationOrphan}},
		{"owner waiting but another solid: drop the reference", obj(nil, "a", "b"), map[types.UID]ownerState{"a": ownerWaiting, "b": ownerSolid}, false,
			action{kind: removeRefs, refs: []types.UID{"a"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := decideDependent(tc.obj, tc.states, tc.hasDependents); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("decideDependent = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestBlocksAndEdits(t *testing.T) {
	refs := []metav1.OwnerReference{{UID: "a", BlockOwnerDeletion: ptr.To(true)}, {UID: "b"}, {UID: "c", BlockOwnerDeletion: ptr.To(false)}}
	if !blocks(refs, "a") || blocks(refs, "b") || blocks(refs, "c") || blocks(refs, "z") {
		t.Error("blocks: only a reference with blockOwnerDeletion=true blocks")
	}
	if got := withoutRefs(refs, "a", "c"); len(got) != 1 || got[0].UID != "b" {
		t.Errorf("withoutRefs = %+v", got)
	}
	if got := withoutFinalizer([]string{"foregroundDeletion", "x"}, "foregroundDeletion"); !reflect.DeepEqual(got, []string{"x"}) {
		t.Errorf("withoutFinalizer = %v", got)
	}
	if got := withoutFinalizer([]string{"orphan"}, "orphan"); got == nil || len(got) != 0 {
		t.Errorf("withoutFinalizer must give an empty list, not null, so the merge patch clears it: %#v", got)
	}
}

func TestGraph(t *testing.T) {
	g := newGraph()
	owner := objectRef{Name: "rs", UID: "rs"}
	g.upsert(owner, &metav1.ObjectMeta{Name: "rs", UID: "rs"})
	pod := objectRef{Name: "pod", UID: "pod"}
	g.upsert(pod, obj(nil, "rs"))
	if !g.hasDependents("rs") || len(g.dependentsOf("rs")) != 1 {
		t.Fatal("pod not indexed under its owner")
	}
	g.upsert(pod, obj(nil)) // released
	if g.hasDependents("rs") {
		t.Error("released pod still indexed")
	}
	g.upsert(pod, obj(nil, "rs"))
	if n := g.remove("pod"); n == nil || g.hasDependents("rs") || g.has("pod") {
		t.Error("removed pod still in the graph")
	}
}
