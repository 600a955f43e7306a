package job

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func TestIndexes(t *testing.T) {
	set := parseIndexes("0,2-4,7", 6)
	if !reflect.DeepEqual(set, map[int]bool{0: true, 2: true, 3: true, 4: true}) {
		t.Errorf("parseIndexes = %v (7 is beyond completions)", set)
	}
	if got := formatIndexes(map[int]bool{0: true, 1: true, 3: true, 5: true, 6: true, 7: true}); got != "0-1,3,5-7" {
		t.Errorf("formatIndexes = %q", got)
	}
	if got := pendingIndexes(5, map[int]bool{0: true}, map[int]bool{1: true}, 2); !reflect.DeepEqual(got, []int{2, 3}) {
		t.Errorf("pendingIndexes = %v", got)
	}
}

func TestBackoffDelay(t *testing.T) {
	// 10s doubling: the 7th failure in a row would wait 640s, over the 10m cap.
	cases := map[int]time.Duration{0: 0, 1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 6: 320 * time.Second, 7: MaxPodFailureBackoff, 20: MaxPodFailureBackoff}
	for n, want := range cases {
		if got := backoffDelay(DefaultPodFailureBackoff, n); got != want {
			t.Errorf("backoffDelay(%d) = %v, want %v", n, got, want)
		}
	}
}

func TestWantActive(t *testing.T) {
	job := func(completions *int32, parallelism int32, suspend bool) *batchv1.Job {
		return &batchv1.Job{Spec: batchv1.JobSpec{Completions: completions, Parallelism: ptr.To(parallelism), Suspend: ptr.To(suspend)}}
	}
	cases := []struct {
		name              string
		job               *batchv1.Job
		succeeded, active int32
		want              int32
	}{
		{"parallelism bounds", job(ptr.To[int32](5), 2, false), 0, 0, 2},
		{"remaining completions bound", job(ptr.To[int32](5), 3, false), 4, 1, 1},
		{"done", job(ptr.To[int32](5), 3, false), 5, 0, 0},
		{"suspended", job(ptr.To[int32](5), 3, true), 0, 2, 0},
		{"no completions: parallelism until a success", job(nil, 3, false), 0, 1, 3},
		{"no completions: after a success, let the rest finish", job(nil, 3, false), 1, 2, 2},
	}
	for _, tc := range cases {
		if got := wantActive(tc.job, tc.succeeded, tc.active); got != tc.want {
			t.Errorf("%s: wantActive = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestDecideOutcome(t *testing.T) {
	base := func() *batchv1.Job {
		return &batchv1.Job{Spec: batchv1.JobSpec{Completions: ptr.To[int32](2), BackoffLimit: ptr.To[int32](1)},
			Status: batchv1.JobStatus{StartTime: &metav1.Time{Time: t0}}}
	}
	deadline := base()
	deadline.Spec.ActiveDeadlineSeconds = ptr.To[int64](60)
	recorded := base()
	recorded.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "DeadlineExceeded", Message: "m"}}
	cases := []struct {
		name                      string
		job                       *batchv1.Job
		succeeded, failed, active int32
		now                       time.Time
		want                      *outcome
		failJob                   *string
	}{
		{"running", base(), 1, 1, 1, t0, nil, nil},
		{"complete", base(), 2, 0, 0, t0, &outcome{batchv1.JobSuccessCriteriaMet, batchv1.JobComplete, "CompletionsReached", msgCompletionsReached}, nil},
		{"complete waits for running pods", base(), 2, 0, 1, t0, nil, nil},
		{"backoff limit", base(), 1, 2, 1, t0, &outcome{batchv1.JobFailureTarget, batchv1.JobFailed, "BackoffLimitExceeded", msgBackoffLimit}, nil},
		{"failure wins over success", base(), 2, 2, 0, t0, &outcome{batchv1.JobFailureTarget, batchv1.JobFailed, "BackoffLimitExceeded", msgBackoffLimit}, nil},
		{"deadline", deadline, 0, 0, 1, t0.Add(time.Minute), &outcome{batchv1.JobFailureTarget, batchv1.JobFailed, "DeadlineExceeded", msgDeadline}, nil},
		{"recorded outcome stands", recorded, 2, 0, 0, t0, &outcome{batchv1.JobFailureTarget, batchv1.JobFailed, "DeadlineExceeded", "m"}, nil},
		{"FailJob rule", base(), 0, 1, 1, t0, &outcome{batchv1.JobFailureTarget, batchv1.JobFailed, "PodFailurePolicy", "rule"}, ptr.To("rule")},
	}
	for _, tc := range cases {
		if got := decideOutcome(tc.job, tc.succeeded, tc.failed, tc.active, tc.failJob, tc.now); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: decideOutcome = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestNewIndexedPod(t *testing.T) {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "work", Namespace: "ns"}}
	j.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c"}}
	p := newPod(j, metav1.OwnerReference{}, 4)
	if p.GenerateName != "work-4-" || p.Spec.Hostname != "work-4" || p.Annotations[batchv1.JobCompletionIndexAnnotation] != "4" ||
		len(p.Spec.Containers[0].Env) != 1 || p.Finalizers[0] != trackingFinalizer {
		t.Errorf("indexed pod = %+v", p)
	}
	if len(j.Spec.Template.Spec.Containers[0].Env) != 0 {
		t.Error("template modified")
	}
}

func TestMatchFailurePolicy(t *testing.T) {
	failedPod := func(exit int32, conds ...corev1.PodConditionType) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
		p.Status.Phase = corev1.PodFailed
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit}}}}
		for _, c := range conds {
			p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: c, Status: corev1.ConditionTrue})
		}
		return p
	}
	policy := &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}},
		{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
		{Action: batchv1.PodFailurePolicyActionCount, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{42}}},
	}}
	if msg, counts := matchFailurePolicy(policy, failedPod(42)); msg == nil || !counts ||
		*msg != "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1" {
		t.Errorf("FailJob: %v %v", msg, counts)
	}
	if msg, counts := matchFailurePolicy(policy, failedPod(1, corev1.DisruptionTarget)); msg != nil || counts {
		t.Errorf("Ignore: %v %v", msg, counts)
	}
	if msg, counts := matchFailurePolicy(policy, failedPod(1)); msg != nil || !counts {
		t.Errorf("Count: %v %v", msg, counts)
	}
	if msg, counts := matchFailurePolicy(nil, failedPod(42)); msg != nil || !counts {
		t.Errorf("no policy: %v %v", msg, counts)
	}
}

func TestIndexFailures(t *testing.T) {
	j := &batchv1.Job{Spec: batchv1.JobSpec{Completions: ptr.To[int32](3), BackoffLimitPerIndex: ptr.To[int32](1),
		CompletionMode: ptr.To(batchv1.IndexedCompletion)}}
	failedPod := func(index, previous int, finished time.Time) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
			batchv1.JobCompletionIndexAnnotation: fmt.Sprint(index), failureCountAnnotation: fmt.Sprint(previous)}}}
		p.Status.Phase = corev1.PodFailed
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 1, FinishedAt: metav1.NewTime(finished)}}}}
		return p
	}
	f := indexFailuresOf(j, []*corev1.Pod{failedPod(0, 0, t0), failedPod(1, 0, t0), failedPod(1, 1, t0.Add(time.Minute))}, nil)
	if f.next[0] != 1 || f.failed[0] || !f.lastFail[0].Equal(t0) {
		t.Errorf("index 0 after one failure: next %d failed %v", f.next[0], f.failed[0])
	}
	if f.next[1] != 2 || !f.failed[1] || !f.lastFail[1].Equal(t0.Add(time.Minute)) {
		t.Errorf("index 1 after two failures: next %d failed %v", f.next[1], f.failed[1])
	}
	if o := indexOutcome(j, map[int]bool{1: true}, map[int]bool{0: true}); o != nil {
		t.Errorf("index 2 still runs: %+v", o)
	}
	if o := indexOutcome(j, map[int]bool{1: true}, map[int]bool{0: true, 2: true}); o == nil || o.reason != "FailedIndexes" {
		t.Errorf("all finished: %+v", o)
	}
	j.Spec.MaxFailedIndexes = ptr.To[int32](0)
	if o := indexOutcome(j, map[int]bool{1: true}, nil); o == nil || o.reason != "MaxFailedIndexesExceeded" {
		t.Errorf("maxFailedIndexes: %+v", o)
	}
}
