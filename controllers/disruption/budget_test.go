package disruption

import (
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func pod(name string, owner types.UID, ready bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if owner != "" {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: string(owner), UID: owner, Controller: ptr.To(true)}}
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	return p
}

func TestExpectedAndDesired(t *testing.T) {
	scales := map[types.UID]int32{"rs-a": 4, "rs-b": 6}
	scaleOf := func(_ *corev1.Pod, ref *metav1.OwnerReference) (Scale, bool, error) {
		n, ok := scales[ref.UID]
		return Scale{UID: ref.UID, Replicas: n}, ok, nil
	}
	// Three pods of rs-a (which wants 4) and one of rs-b (which wants 6).
	pods := []*corev1.Pod{pod("a1", "rs-a", true), pod("a2", "rs-a", true), pod("a3", "rs-a", false), pod("b1", "rs-b", true)}
	pct := intstr.FromString("50%")
	two := intstr.FromInt32(2)
	cases := []struct {
		name              string
		spec              policyv1.PodDisruptionBudgetSpec
		pods              []*corev1.Pod
		expected, desired int32
		unmanaged         int
		err               bool
	}{
		{"integer minAvailable counts the pods", policyv1.PodDisruptionBudgetSpec{MinAvailable: &two}, pods, 4, 2, 0, false},
		{"percentage minAvailable counts controller scale, rounding up", policyv1.PodDisruptionBudgetSpec{MinAvailable: &pct}, pods, 10, 5, 0, false},
		{"maxUnavailable counts controller scale", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &two}, pods, 10, 8, 0, false},
		{"maxUnavailable percentage", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &pct}, pods, 10, 5, 0, false},
		{"desired never negative", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(20))}, pods, 10, 0, 0, false},
		{"unmanaged pods are reported, not counted", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &two},
			append([]*corev1.Pod{pod("bare", "", true)}, pods...), 10, 8, 1, false},
		{"a controller that is gone is an error", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &two},
			[]*corev1.Pod{pod("x", "rs-gone", true)}, 0, 0, 0, true},
		{"integer minAvailable needs no controllers", policyv1.PodDisruptionBudgetSpec{MinAvailable: &two},
			[]*corev1.Pod{pod("x", "rs-gone", true)}, 1, 2, 0, false},
	}
	for _, tc := range cases {
		n, err := expectedAndDesired(&policyv1.PodDisruptionBudget{Spec: tc.spec}, tc.pods, scaleOf)
		if (err != nil) != tc.err {
			t.Errorf("%s: err = %v, want error %v", tc.name, err, tc.err)
			continue
		}
		if err == nil && (n.expected != tc.expected || n.desired != tc.desired || len(n.unmanaged) != tc.unmanaged) {
			t.Errorf("%s: expected %d desired %d unmanaged %v; want %d %d %d", tc.name, n.expected, n.desired, n.unmanaged, tc.expected, tc.desired, tc.unmanaged)
		}
	}

	failing := func(*corev1.Pod, *metav1.OwnerReference) (Scale, bool, error) {
		return Scale{}, false, errors.New("boom")
	}
	if _, err := expectedAndDesired(&policyv1.PodDisruptionBudget{Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &pct}}, pods, failing); err == nil {
		t.Error("a failing scale lookup must fail the sync")
	}
}

func TestHealthyAndDisrupted(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	deleting := pod("deleting", "rs", true)
	deleting.DeletionTimestamp = &metav1.Time{Time: now}
	pods := []*corev1.Pod{pod("ok", "rs", true), pod("unready", "rs", false), pod("evicted", "rs", true), pod("stuck", "rs", true), deleting}
	disrupted := map[string]metav1.Time{
		"evicted":  metav1.NewTime(now.Add(-30 * time.Second)),
		"stuck":    metav1.NewTime(now.Add(-3 * time.Minute)),
		"deleting": metav1.NewTime(now.Add(-10 * time.Second)),
		"gone":     metav1.NewTime(now.Add(-10 * time.Second)),
	}
	kept, recheck, overdue := disruptedStill(pods, disrupted, now)
	if len(kept) != 1 || kept["evicted"].Time.IsZero() {
		t.Errorf("kept = %v, want only the recently evicted pod", kept)
	}
	if want := now.Add(90 * time.Second); !recheck.Equal(want) {
		t.Errorf("recheck = %v, want %v", recheck, want)
	}
	if len(overdue) != 1 || overdue[0] != "stuck" {
		t.Errorf("overdue = %v, want [stuck]", overdue)
	}
	// ok and stuck (whose eviction expired) count; unready, evicted and deleting do not.
	if got := healthy(pods, kept, now); got != 2 {
		t.Errorf("healthy = %d, want 2", got)
	}
}

func TestAllowed(t *testing.T) {
	for _, tc := range []struct{ current, desired, expected, want int32 }{
		{3, 2, 3, 1}, {2, 2, 3, 0}, {1, 2, 3, 0}, {3, 0, 0, 0}, {5, 0, 5, 5},
	} {
		if got := allowed(tc.current, tc.desired, tc.expected); got != tc.want {
			t.Errorf("allowed(%d, %d, %d) = %d, want %d", tc.current, tc.desired, tc.expected, got, tc.want)
		}
	}
}

func TestStaleIn(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	withCond := func(reason string, status corev1.ConditionStatus, age time.Duration) *corev1.Pod {
		p := pod("p", "rs", true)
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: status,
			Reason: reason, LastTransitionTime: metav1.NewTime(now.Add(-age))})
		return p
	}
	if d, ok := staleIn(withCond("EvictionByEvictionAPI", corev1.ConditionTrue, 30*time.Second), now); !ok || d != 90*time.Second {
		t.Errorf("fresh eviction condition: %v %v, want 90s true", d, ok)
	}
	if d, ok := staleIn(withCond("EvictionByEvictionAPI", corev1.ConditionTrue, 5*time.Minute), now); !ok || d != 0 {
		t.Errorf("old eviction condition: %v %v, want 0 true", d, ok)
	}
	if _, ok := staleIn(withCond(corev1.PodReasonTerminationByKubelet, corev1.ConditionTrue, 5*time.Minute), now); ok {
		t.Error("a kubelet's condition is never stale")
	}
	if _, ok := staleIn(withCond("EvictionByEvictionAPI", corev1.ConditionFalse, 5*time.Minute), now); ok {
		t.Error("a False condition needs nothing")
	}
	done := withCond("EvictionByEvictionAPI", corev1.ConditionTrue, 5*time.Minute)
	done.Status.Phase = corev1.PodSucceeded
	if _, ok := staleIn(done, now); ok {
		t.Error("a finished pod keeps its condition")
	}
}
