package deployment

import (
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func deploy(replicas int32, surge, unavail intstr.IntOrString) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavail},
			},
			ProgressDeadlineSeconds: ptr.To[int32](600),
		},
	}
}

func rs(name string, age int, replicas, available int32, ann map[string]string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: ann, CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(age) * time.Minute))},
		Spec:       appsv1.ReplicaSetSpec{Replicas: ptr.To(replicas)},
		Status:     appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: available, AvailableReplicas: available},
	}
}

func TestResolveFenceposts(t *testing.T) {
	cases := []struct {
		surge, unavail         intstr.IntOrString
		desired                int32
		wantSurge, wantUnavail int32
	}{
		{intstr.FromString("25%"), intstr.FromString("25%"), 10, 3, 2},
		{intstr.FromInt32(0), intstr.FromInt32(0), 3, 0, 1},
		{intstr.FromInt32(1), intstr.FromInt32(0), 3, 1, 0},
		{intstr.FromString("50%"), intstr.FromString("50%"), 1, 1, 0},
		{intstr.FromString("0%"), intstr.FromString("0%"), 0, 0, 1},
	}
	for _, tc := range cases {
		s, u := resolveFenceposts(&tc.surge, &tc.unavail, tc.desired)
		if s != tc.wantSurge || u != tc.wantUnavail {
			t.Errorf("resolveFenceposts(%s, %s, %d) = %d, %d; want %d, %d", tc.surge.String(), tc.unavail.String(), tc.desired, s, u, tc.wantSurge, tc.wantUnavail)
		}
	}
}

func TestNewRSTarget(t *testing.T) {
	d := deploy(3, intstr.FromInt32(1), intstr.FromInt32(0))
	cases := []struct {
		name     string
		old, new *appsv1.ReplicaSet
		want     int32
		wantOK   bool
	}{
		{"surge by one", rs("old", 0, 3, 3, nil), rs("new", 1, 0, 0, nil), 1, true},
		{"at max surge", rs("old", 0, 3, 3, nil), rs("new", 1, 1, 0, nil), 1, false},
		{"old shrank, grow again", rs("old", 0, 2, 2, nil), rs("new", 1, 1, 1, nil), 2, true},
		{"too many", rs("old", 0, 0, 0, nil), rs("new", 1, 5, 5, nil), 3, true},
		{"done", rs("old", 0, 0, 0, nil), rs("new", 1, 3, 3, nil), 3, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := newRSTarget(d, []*appsv1.ReplicaSet{tc.old, tc.new}, tc.new)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("newRSTarget = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestOldScaleDown(t *testing.T) {
	cases := []struct {
		name string
		d    *appsv1.Deployment
		old  []*appsv1.ReplicaSet
		new  *appsv1.ReplicaSet
		want map[string]int32
	}{
		{"maxUnavailable 0 waits for the new pod to be available",
			deploy(3, intstr.FromInt32(1), intstr.FromInt32(0)),
			[]*appsv1.ReplicaSet{rs("old", 0, 3, 3, nil)}, rs("new", 1, 1, 0, nil), nil},
		{"maxUnavailable 0, new pod available: one old goes",
			deploy(3, intstr.FromInt32(1), intstr.FromInt32(0)),
			[]*appsv1.ReplicaSet{rs("old", 0, 3, 3, nil)}, rs("new", 1, 1, 1, nil), map[string]int32{"old": 2}},
		{"unhealthy old pods go first and cost no availability",
			deploy(3, intstr.FromInt32(1), intstr.FromInt32(1)),
			[]*appsv1.ReplicaSet{rs("old", 0, 3, 1, nil)}, rs("new", 1, 0, 0, nil), map[string]int32{"old": 2}},
		{"oldest set first",
			deploy(4, intstr.FromInt32(0), intstr.FromInt32(2)),
			[]*appsv1.ReplicaSet{rs("older", 0, 2, 2, nil), rs("old", 1, 2, 2, nil)}, rs("new", 2, 0, 0, nil), map[string]int32{"older": 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			all := append(append([]*appsv1.ReplicaSet(nil), tc.old...), tc.new)
			got := oldScaleDown(tc.d, all, tc.old, tc.new)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("oldScaleDown = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestProportionalSizes(t *testing.T) {
	d := deploy(15, intstr.FromInt32(3), intstr.FromInt32(2))
	d.Status.Replicas = 13
	ann := map[string]string{MaxReplicasAnnotation: "13"}
	a := rs("a", 0, 8, 8, ann)
	b := rs("b", 1, 5, 0, ann)
	if got, want := proportionalSizes(d, []*appsv1.ReplicaSet{a, b}), map[string]int32{"a": 11, "b": 7}; !reflect.DeepEqual(got, want) {
		t.Errorf("scale up: %v, want %v", got, want)
	}
	d.Spec.Replicas = ptr.To[int32](5) // allowed 8
	if got, want := proportionalSizes(d, []*appsv1.ReplicaSet{a, b}), map[string]int32{"a": 5, "b": 3}; !reflect.DeepEqual(got, want) {
		t.Errorf("scale down: %v, want %v", got, want)
	}
	d.Spec.Replicas = ptr.To[int32](0)
	if got, want := proportionalSizes(d, []*appsv1.ReplicaSet{a, b}), map[string]int32{"a": 0, "b": 0}; !reflect.DeepEqual(got, want) {
		t.Errorf("scale to zero: %v, want %v", got, want)
	}
}

func TestSetNewRSAnnotations(t *testing.T) {
	d := deploy(3, intstr.FromInt32(1), intstr.FromInt32(0))
	d.Annotations = map[string]string{ChangeCauseAnnotation: "kubectl set image", lastAppliedAnnotation: "{}", RevisionAnnotation: "7"}
	fresh := rs("new", 0, 0, 0, nil)
	if !setNewRSAnnotations(d, fresh, 1, false) {
		t.Fatal("no change reported for a fresh set")
	}
	want := map[string]string{ChangeCauseAnnotation: "kubectl set image", RevisionAnnotation: "1", DesiredReplicasAnnotation: "3", MaxReplicasAnnotation: "4"}
	if !reflect.DeepEqual(fresh.Annotations, want) {
		t.Errorf("fresh annotations = %v, want %v", fresh.Annotations, want)
	}
	// A rollback: the revision-1 set becomes revision 3, remembering 1.
	if !setNewRSAnnotations(d, fresh, 3, true) || fresh.Annotations[RevisionAnnotation] != "3" || fresh.Annotations[RevisionHistoryAnnotation] != "1" {
		t.Errorf("rollback annotations = %v", fresh.Annotations)
	}
	setNewRSAnnotations(d, fresh, 5, true)
	if fresh.Annotations[RevisionHistoryAnnotation] != "1,3" {
		t.Errorf("history = %q, want 1,3", fresh.Annotations[RevisionHistoryAnnotation])
	}
	if setNewRSAnnotations(d, fresh, 4, true) {
		t.Error("a lower revision must not change anything")
	}
	long := strings.Repeat("1234,", 500)
	if got := appendHistory(long[:len(long)-1], "9"); len(got) > maxRevisionHistoryChars || !strings.HasSuffix(got, ",9") {
		t.Errorf("history not trimmed: %d chars", len(got))
	}
}

func TestSetsToClean(t *testing.T) {
	d := deploy(3, intstr.FromInt32(1), intstr.FromInt32(0))
	d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	rev := func(r string) map[string]string { return map[string]string{RevisionAnnotation: r} }
	old := []*appsv1.ReplicaSet{rs("r3", 3, 0, 0, rev("3")), rs("r1", 1, 0, 0, rev("1")), rs("r2", 2, 1, 1, rev("2")), rs("r4", 4, 0, 0, rev("4"))}
	var got []string
	for _, s := range setsToClean(d, old) {
		got = append(got, s.Name)
	}
	if want := []string{"r1", "r3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("setsToClean = %v, want %v (r2 still has pods)", got, want)
	}
}

func TestRolloutStatus(t *testing.T) {
	d := deploy(3, intstr.FromInt32(1), intstr.FromInt32(0))
	newRS := rs("echo-abc", 1, 3, 3, nil)
	st, wait := rolloutStatus(d, []*appsv1.ReplicaSet{newRS}, newRS, t0)
	p := getCondition(st, appsv1.DeploymentProgressing)
	a := getCondition(st, appsv1.DeploymentAvailable)
	if p == nil || p.Reason != ReasonNewRSAvailable || p.Message != `ReplicaSet "echo-abc" has successfully progressed.` || wait != 0 {
		t.Errorf("complete: progressing = %+v, wait %v", p, wait)
	}
	if a == nil || a.Status != corev1.ConditionTrue || a.Reason != ReasonMinimumReplicasAvail {
		t.Errorf("complete: available = %+v", a)
	}
	if st.Replicas != 3 || st.UpdatedReplicas != 3 || st.AvailableReplicas != 3 || st.UnavailableReplicas != 0 || st.ObservedGeneration != 1 {
		t.Errorf("complete: status = %+v", st)
	}

	// Mid-rollout: new pods appeared since the last status.
	old := rs("echo-old", 0, 3, 3, nil)
	mid := rs("echo-abc", 1, 1, 0, nil)
	st, wait = rolloutStatus(d, []*appsv1.ReplicaSet{old, mid}, mid, t0)
	if p := getCondition(st, appsv1.DeploymentProgressing); p == nil || p.Reason != ReasonReplicaSetUpdated || wait <= 0 {
		t.Errorf("progressing: %+v, wait %v", p, wait)
	}

	// No progress past the deadline.
	d.Status = st
	st, _ = rolloutStatus(d, []*appsv1.ReplicaSet{old, mid}, mid, t0.Add(11*time.Minute))
	if p := getCondition(st, appsv1.DeploymentProgressing); p == nil || p.Reason != ReasonTimedOut || p.Status != corev1.ConditionFalse {
		t.Errorf("timed out: %+v", p)
	}

	// Fewer available than desired-maxUnavailable.
	short := rs("echo-abc", 1, 3, 1, nil)
	st, _ = rolloutStatus(deploy(3, intstr.FromInt32(1), intstr.FromInt32(0)), []*appsv1.ReplicaSet{short}, short, t0)
	if a := getCondition(st, appsv1.DeploymentAvailable); a == nil || a.Status != corev1.ConditionFalse || a.Reason != ReasonMinimumReplicasUnavail {
		t.Errorf("unavailable: %+v", a)
	}
}

func TestComputeHash(t *testing.T) {
	tpl := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "echo"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "echo", Image: "busybox:1.35"}}},
	}
	h1 := ComputeHash(tpl, nil)
	if h1 != ComputeHash(tpl.DeepCopy(), nil) {
		t.Error("hash is not deterministic")
	}
	if h1 == ComputeHash(tpl, ptr.To[int32](1)) {
		t.Error("collision count does not change the hash")
	}
	other := tpl.DeepCopy()
	other.Spec.Containers[0].Image = "busybox:1.36"
	if h1 == ComputeHash(other, nil) {
		t.Error("a different image hashes the same")
	}
	if strings.Trim(h1, "bcdfghjklmnpqrstvwxz2456789") != "" || len(h1) < 8 || len(h1) > 10 {
		t.Errorf("hash %q is not in upstream's safe alphabet and length", h1)
	}
}
