package expectations

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func mkPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name)}}
}

func TestExpectations(t *testing.T) {
	key := types.NamespacedName{Namespace: "ns", Name: "rs"}
	e := New()
	if !e.Satisfied(key, nil, t0) {
		t.Fatal("fresh expectations must be satisfied")
	}
	e.Expect(key, []string{"rs-a", "rs-b"}, nil, t0)
	if e.Satisfied(key, []corev1.Pod{*mkPod("rs-a")}, t0) {
		t.Error("satisfied while rs-b is not in the cache yet")
	}
	if !e.Satisfied(key, []corev1.Pod{*mkPod("rs-a"), *mkPod("rs-b")}, t0) {
		t.Error("not satisfied once both pods are cached")
	}
	e.Expect(key, nil, []types.UID{"rs-a"}, t0)
	if e.Satisfied(key, []corev1.Pod{*mkPod("rs-a")}, t0) {
		t.Error("satisfied while the deleted pod is still live in the cache")
	}
	dying := mkPod("rs-a")
	dying.DeletionTimestamp = &metav1.Time{Time: t0}
	if !e.Satisfied(key, []corev1.Pod{*dying}, t0) {
		t.Error("a pod marked for deletion satisfies the delete")
	}
	e.Expect(key, []string{"rs-c"}, nil, t0)
	e.ObserveGone(key, mkPod("rs-c"))
	if !e.Satisfied(key, nil, t0) {
		t.Error("a created pod seen deleted satisfies the create")
	}
	e.Expect(key, []string{"rs-d"}, nil, t0)
	if !e.Satisfied(key, nil, t0.Add(TTL+time.Second)) {
		t.Error("expectations must expire")
	}
}
