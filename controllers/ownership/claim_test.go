package ownership

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

func TestDecide(t *testing.T) {
	owner := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "rs", UID: "owner"}}
	ours := NewControllerRef(owner, "apps/v1", "ReplicaSet")
	theirs := ours
	theirs.UID = "other"
	sel := labels.SelectorFromSet(labels.Set{"app": "echo"})
	now := metav1.Now()
	pod := func(lbl string, ref *metav1.OwnerReference, deleting bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", UID: "pod", Labels: map[string]string{"app": lbl}}}
		if ref != nil {
			p.OwnerReferences = []metav1.OwnerReference{*ref}
		}
		if deleting {
			p.DeletionTimestamp = &now
		}
		return p
	}
	cases := []struct {
		name          string
		pod           *corev1.Pod
		ownerDeleting bool
		want          Action
	}{
		{"orphan matching is adopted", pod("echo", nil, false), false, Adopt},
		{"orphan not matching is ignored", pod("other", nil, false), false, Ignore},
		{"orphan matching but owner deleting", pod("echo", nil, false), true, Ignore},
		{"orphan matching but pod deleting", pod("echo", nil, true), false, Ignore},
		{"ours matching is kept", pod("echo", &ours, false), false, Keep},
		{"ours not matching is released", pod("other", &ours, false), false, Release},
		{"ours not matching, owner deleting, kept", pod("other", &ours, false), true, Keep},
		{"another controller's pod is ignored", pod("echo", &theirs, false), false, Ignore},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decide(tc.pod, types.UID("owner"), sel, tc.ownerDeleting); got != tc.want {
				t.Errorf("Decide = %v, want %v", got, tc.want)
			}
		})
	}
}
