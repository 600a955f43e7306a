package replicaset

import (
	"errors"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

type podOpt func(*corev1.Pod)

func node(n string) podOpt { return func(p *corev1.Pod) { p.Spec.NodeName = n } }
func phase(ph corev1.PodPhase) podOpt {
	return func(p *corev1.Pod) { p.Status.Phase = ph }
}
func readySince(t time.Time) podOpt {
	return func(p *corev1.Pod) {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{
			Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t)})
	}
}
func restartCount(n int32) podOpt {
	return func(p *corev1.Pod) {
		p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{RestartCount: n})
	}
}
func created(t time.Time) podOpt {
	return func(p *corev1.Pod) { p.CreationTimestamp = metav1.NewTime(t) }
}
func labeled(l map[string]string) podOpt { return func(p *corev1.Pod) { p.Labels = l } }

func mkPod(name string, opts ...podOpt) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(name), CreationTimestamp: metav1.NewTime(t0)}}
	p.Status.Phase = corev1.PodRunning
	for _, o := range opts {
		o(p)
	}
	return p
}

func names(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestPodsToDelete(t *testing.T) {
	cases := []struct {
		name string
		pods []*corev1.Pod
		n    int
		want []string
	}{
		{"unscheduled before scheduled",
			[]*corev1.Pod{mkPod("sched", node("a"), phase(corev1.PodPending)), mkPod("unsched", phase(corev1.PodPending))}, 1, []string{"unsched"}},
		{"pending before unknown before running",
			[]*corev1.Pod{mkPod("run", node("a")), mkPod("unk", node("a"), phase(corev1.PodUnknown)), mkPod("pend", node("a"), phase(corev1.PodPending))}, 3,
			[]string{"pend", "unk", "run"}},
		{"not ready before ready",
			[]*corev1.Pod{mkPod("ready", node("a"), readySince(t0)), mkPod("notready", node("a"))}, 1, []string{"notready"}},
		{"crowded node first",
			[]*corev1.Pod{mkPod("alone", node("b"), readySince(t0)), mkPod("c1", node("a"), readySince(t0)), mkPod("c2", node("a"), readySince(t0), created(t0.Add(-time.Hour)))}, 1,
			[]string{"c1"}},
		{"ready more recently first",
			[]*corev1.Pod{mkPod("old", node("a"), readySince(t0)), mkPod("recent", node("a"), readySince(t0.Add(time.Minute)))}, 1, []string{"recent"}},
		{"more restarts first",
			[]*corev1.Pod{mkPod("few", node("a"), restartCount(1)), mkPod("many", node("a"), restartCount(5))}, 1, []string{"many"}},
		{"newer first",
			[]*corev1.Pod{mkPod("older", node("a")), mkPod("newer", node("a"), created(t0.Add(time.Second)))}, 1, []string{"newer"}},
		{"n larger than pods", []*corev1.Pod{mkPod("a")}, 3, []string{"a"}},
		{"zero", []*corev1.Pod{mkPod("a")}, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(podsToDelete(tc.pods, tc.n)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("podsToDelete = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSlowStartBatches(t *testing.T) {
	cases := map[int][]int{0: nil, 1: {1}, 2: {1, 1}, 3: {1, 2}, 7: {1, 2, 4}, 10: {1, 2, 4, 3}, 100: {1, 2, 4, 8, 16, 32, 37}}
	for n, want := range cases {
		if got := slowStartBatches(n); !reflect.DeepEqual(got, want) {
			t.Errorf("slowStartBatches(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestCalculateStatus(t *testing.T) {
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Generation: 4}}
	rs.Spec.Template.Labels = map[string]string{"app": "echo", "tier": "web"}
	full := map[string]string{"app": "echo", "tier": "web"}
	pods := []*corev1.Pod{
		mkPod("a", labeled(full), readySince(t0.Add(-time.Minute))),
		mkPod("b", labeled(full), readySince(t0.Add(-5*time.Second))),
		mkPod("c", labeled(map[string]string{"app": "echo"})),
	}
	cases := []struct {
		name       string
		minReady   int32
		err        error
		wantAvail  int32
		wantWait   time.Duration
		wantFailed bool
	}{
		{"no minReadySeconds", 0, nil, 2, 0, false},
		{"minReadySeconds 10", 10, nil, 1, 5 * time.Second, false},
		{"create failure sets ReplicaFailure", 0, errors.New("quota"), 2, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := rs.DeepCopy()
			r.Spec.MinReadySeconds = tc.minReady
			st, wait := calculateStatus(r, pods, reasonFailedCreate, tc.err, t0)
			if st.Replicas != 3 || st.FullyLabeledReplicas != 2 || st.ReadyReplicas != 2 || st.ObservedGeneration != 4 {
				t.Errorf("status = %+v", st)
			}
			if st.AvailableReplicas != tc.wantAvail || wait != tc.wantWait {
				t.Errorf("available=%d wait=%v, want %d %v", st.AvailableReplicas, wait, tc.wantAvail, tc.wantWait)
			}
			if got := len(st.Conditions) == 1 && st.Conditions[0].Reason == reasonFailedCreate; got != tc.wantFailed {
				t.Errorf("conditions = %+v, want failure %v", st.Conditions, tc.wantFailed)
			}
		})
	}
	// A later successful round clears the condition.
	failed, _ := calculateStatus(rs, pods, reasonFailedCreate, errors.New("quota"), t0)
	r := rs.DeepCopy()
	r.Status = failed
	if st, _ := calculateStatus(r, pods, "", nil, t0); len(st.Conditions) != 0 {
		t.Errorf("ReplicaFailure not cleared: %+v", st.Conditions)
	}
}
