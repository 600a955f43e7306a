package job_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeseed/kubeseed/test/controllertest"
)

var suite controllertest.Suite

func TestMain(m *testing.M) {
	os.Exit(controllertest.Run(m, &suite, "job", "ttlafterfinished", "garbagecollector"))
}

func newJob(ns string, completions, parallelism int32) *batchv1.Job {
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "work"},
		Spec: batchv1.JobSpec{
			Completions: ptr.To(completions),
			Parallelism: ptr.To(parallelism),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "work", Image: "busybox:1.35"}},
			}},
		},
	}
}

// finishPods plays the kubelet for a Job's pods until ctx ends: every live
// pod runs to phase (Succeeded or Failed), and deleted pods are finished.
func finishPods(ctx context.Context, ns string, phase corev1.PodPhase, maxActive *int) {
	go func() {
		for ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			var pods corev1.PodList
			if err := suite.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil {
				continue
			}
			active := 0
			for i := range pods.Items {
				p := &pods.Items[i]
				if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
					active++
				}
			}
			if maxActive != nil && active > *maxActive {
				*maxActive = active
			}
			for i := range pods.Items {
				p := &pods.Items[i]
				if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
					continue
				}
				p.Status.Phase = phase
				_ = suite.Client.Status().Update(ctx, p)
			}
		}
	}()
}

func condition(j *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range j.Status.Conditions {
		if j.Status.Conditions[i].Type == t && j.Status.Conditions[i].Status == corev1.ConditionTrue {
			return &j.Status.Conditions[i]
		}
	}
	return nil
}

func getJob(ctx context.Context, j *batchv1.Job) *batchv1.Job {
	var got batchv1.Job
	_ = suite.Client.Get(ctx, client.ObjectKeyFromObject(j), &got)
	return &got
}

func TestRunsToCompletionWithinParallelism(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	j := newJob(ns, 5, 2)
	if err := suite.Client.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	maxActive := 0
	finishPods(ctx, ns, corev1.PodSucceeded, &maxActive)
	out, err := suite.RunKubectl(ctx, "-n", ns, "wait", "--for=condition=complete", "job/work", "--timeout=40s")
	if err != nil {
		t.Fatalf("kubectl wait: %v\n%s\nstatus %+v", err, out, getJob(ctx, j).Status)
	}
	got := getJob(ctx, j)
	c := condition(got, batchv1.JobComplete)
	if got.Status.Succeeded != 5 || got.Status.Failed != 0 || got.Status.Active != 0 || got.Status.CompletionTime == nil ||
		c == nil || c.Reason != "CompletionsReached" || condition(got, batchv1.JobSuccessCriteriaMet) == nil {
		t.Errorf("status = %+v", got.Status)
	}
	if maxActive > 2 {
		t.Errorf("%d pods active at once, parallelism is 2", maxActive)
	}
	var pods corev1.PodList
	_ = suite.Client.List(ctx, &pods, client.InNamespace(ns))
	for _, p := range pods.Items {
		if len(p.Finalizers) != 0 {
			t.Errorf("pod %s still has finalizers %v", p.Name, p.Finalizers)
		}
	}
	if len(pods.Items) != 5 {
		t.Errorf("%d pods for 5 completions", len(pods.Items))
	}
}

func TestBackoffLimitExceeded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	j := newJob(ns, 1, 1)
	j.Spec.BackoffLimit = ptr.To[int32](1)
	if err := suite.Client.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	finishPods(ctx, ns, corev1.PodFailed, nil)
	start := time.Now()
	controllertest.Eventually(t, 45*time.Second, "job failed", func() (bool, string) {
		got := getJob(ctx, j)
		c := condition(got, batchv1.JobFailed)
		return c != nil && c.Reason == "BackoffLimitExceeded" && c.Message == "Job has reached the specified backoff limit" &&
			condition(got, batchv1.JobFailureTarget) != nil && got.Status.Failed == 2 && got.Status.Active == 0, fmt.Sprintf("%+v", got.Status)
	})
	// The replacement waited for the back-off (10s after the first failure).
	if d := time.Since(start); d < 9*time.Second {
		t.Errorf("second pod came after %v, want the 10s back-off", d)
	}
}

func TestIndexedJob(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	j := newJob(ns, 3, 3)
	j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	if err := suite.Client.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 20*time.Second, "3 indexed pods", func() (bool, string) {
		var pods corev1.PodList
		_ = suite.Client.List(ctx, &pods, client.InNamespace(ns))
		var got []string
		for _, p := range pods.Items {
			idx := p.Annotations["batch.kubernetes.io/job-completion-index"]
			env := ""
			for _, e := range p.Spec.Containers[0].Env {
				if e.Name == "JOB_COMPLETION_INDEX" && e.ValueFrom != nil {
					env = e.ValueFrom.FieldRef.FieldPath
				}
			}
			if p.Spec.Hostname != "work-"+idx || !strings.HasPrefix(p.Name, "work-"+idx+"-") || env == "" ||
				p.Labels["batch.kubernetes.io/job-completion-index"] != idx {
				return false, fmt.Sprintf("pod %s hostname %s env %q labels %v", p.Name, p.Spec.Hostname, env, p.Labels)
			}
			got = append(got, idx)
		}
		sort.Strings(got)
		return strings.Join(got, ",") == "0,1,2", fmt.Sprint(got)
	})
	finishPods(ctx, ns, corev1.PodSucceeded, nil)
	controllertest.Eventually(t, 30*time.Second, "complete", func() (bool, string) {
		got := getJob(ctx, j)
		return condition(got, batchv1.JobComplete) != nil && got.Status.CompletedIndexes == "0-2" && got.Status.Succeeded == 3,
			fmt.Sprintf("%+v", got.Status)
	})
}

func TestSuspendAndResume(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	j := newJob(ns, 2, 2)
	j.Spec.Suspend = ptr.To(true)
	if err := suite.Client.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 15*time.Second, "suspended", func() (bool, string) {
		got := getJob(ctx, j)
		c := condition(got, batchv1.JobSuspended)
		return c != nil && c.Reason == "JobSuspended" && got.Status.StartTime == nil, fmt.Sprintf("%+v", got.Status)
	})
	var pods corev1.PodList
	_ = suite.Client.List(ctx, &pods, client.InNamespace(ns))
	if len(pods.Items) != 0 {
		t.Fatalf("suspended job has %d pods", len(pods.Items))
	}
	got := getJob(ctx, j)
	patch := client.MergeFrom(got.DeepCopy())
	got.Spec.Suspend = ptr.To(false)
	if err := suite.Client.Patch(ctx, got, patch); err != nil {
		t.Fatal(err)
	}
	finishPods(ctx, ns, corev1.PodSucceeded, nil)
	controllertest.Eventually(t, 30*time.Second, "resumed and complete", func() (bool, string) {
		got := getJob(ctx, j)
		return condition(got, batchv1.JobComplete) != nil && condition(got, batchv1.JobSuspended) == nil && got.Status.Succeeded == 2,
			fmt.Sprintf("%+v", got.Status)
	})
}

func TestTTLAfterFinishedDeletesJobAndPods(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	j := newJob(ns, 1, 1)
	j.Spec.TTLSecondsAfterFinished = ptr.To[int32](2)
	if err := suite.Client.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	finishPods(ctx, ns, corev1.PodSucceeded, nil)
	// The TTL counts from status.completionTime (second resolution, so at or
	// before the real completion); the test may see the completion late on a
	// loaded machine, so it measures from the recorded time, not its own.
	var completed time.Time
	controllertest.Eventually(t, 20*time.Second, "complete", func() (bool, string) {
		got := getJob(ctx, j)
		if got.Status.CompletionTime != nil {
			completed = got.Status.CompletionTime.Time
		}
		return condition(got, batchv1.JobComplete) != nil && !completed.IsZero(), fmt.Sprintf("%+v", got.Status)
	})
	controllertest.Eventually(t, 30*time.Second, "job and pods deleted", func() (bool, string) {
		var jobs batchv1.JobList
		var pods corev1.PodList
		_ = suite.Client.List(ctx, &jobs, client.InNamespace(ns))
		_ = suite.Client.List(ctx, &pods, client.InNamespace(ns))
		return len(jobs.Items) == 0 && len(pods.Items) == 0, fmt.Sprintf("%d jobs, %d pods", len(jobs.Items), len(pods.Items))
	})
	if d := time.Since(completed); d < 2*time.Second {
		t.Errorf("deleted %v after completion, before the 2s TTL", d)
	}
}

func TestPodFailurePolicyFailJob(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	j := newJob(ns, 1, 1)
	j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action:      batchv1.PodFailurePolicyActionFailJob,
		OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}},
	}}}
	if err := suite.Client.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	// The kubelet's part: the container exits 42.
	controllertest.Eventually(t, 20*time.Second, "pod failed with exit code 42", func() (bool, string) {
		var pods corev1.PodList
		_ = suite.Client.List(ctx, &pods, client.InNamespace(ns))
		if len(pods.Items) != 1 {
			return false, fmt.Sprintf("%d pods", len(pods.Items))
		}
		p := &pods.Items[0]
		p.Status.Phase = corev1.PodFailed
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "work", Image: "busybox:1.35",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 42, Reason: "Error"}}}}
		err := suite.Client.Status().Update(ctx, p)
		return err == nil, fmt.Sprint(err)
	})
	controllertest.Eventually(t, 20*time.Second, "job failed by the policy", func() (bool, string) {
		got := getJob(ctx, j)
		c := condition(got, batchv1.JobFailed)
		return c != nil && c.Reason == "PodFailurePolicy" && strings.Contains(c.Message, "failed with exit code 42 matching FailJob rule at index 0"),
			fmt.Sprintf("%+v", got.Status)
	})
}

func TestBackoffLimitPerIndex(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	j := newJob(ns, 3, 3)
	j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
	j.Spec.BackoffLimitPerIndex = ptr.To[int32](0)
	if err := suite.Client.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	// The kubelet's part: index 1 fails, the others succeed.
	go func() {
		for ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			var pods corev1.PodList
			if err := suite.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil {
				continue
			}
			for i := range pods.Items {
				p := &pods.Items[i]
				if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
					continue
				}
				p.Status.Phase = corev1.PodSucceeded
				if p.Annotations["batch.kubernetes.io/job-completion-index"] == "1" {
					p.Status.Phase = corev1.PodFailed
				}
				_ = suite.Client.Status().Update(ctx, p)
			}
		}
	}()
	controllertest.Eventually(t, 30*time.Second, "job failed with index 1", func() (bool, string) {
		got := getJob(ctx, j)
		c := condition(got, batchv1.JobFailed)
		return c != nil && c.Reason == "FailedIndexes" && ptr.Deref(got.Status.FailedIndexes, "") == "1" && got.Status.CompletedIndexes == "0,2",
			fmt.Sprintf("%+v", got.Status)
	})
	var pods corev1.PodList
	_ = suite.Client.List(ctx, &pods, client.InNamespace(ns))
	if len(pods.Items) != 3 {
		t.Errorf("%d pods: a failed index with backoffLimitPerIndex=0 must not be retried", len(pods.Items))
	}
}
