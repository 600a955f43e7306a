package job

import (
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// failureCountAnnotation carries, on a pod, how many earlier pods of its
// index failed (backoffLimitPerIndex).
const failureCountAnnotation = batchv1.JobIndexFailureCountAnnotation

// Reasons and messages of per-index failure, upstream's words.
const (
	reasonFailedIndexes    = batchv1.JobReasonFailedIndexes
	msgFailedIndexes       = "Job has failed indexes"
	reasonMaxFailedIndexes = batchv1.JobReasonMaxFailedIndexesExceeded
	msgMaxFailedIndexes    = "Job has exceeded the specified maximal number of failed indexes"
)

func perIndex(j *batchv1.Job) bool { return isIndexed(j) && j.Spec.BackoffLimitPerIndex != nil }

func failureCount(p *corev1.Pod) int {
	n, err := strconv.Atoi(p.Annotations[failureCountAnnotation])
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// finishedTime is when a pod finished: its last container exit, else its
// latest condition change, else its creation.
func finishedTime(p *corev1.Pod) time.Time {
	var t time.Time
	for _, cs := range p.Status.ContainerStatuses {
		if cs.State.Terminated != nil && cs.State.Terminated.FinishedAt.After(t) {
			t = cs.State.Terminated.FinishedAt.Time
		}
	}
	if !t.IsZero() {
		return t
	}
	for _, c := range p.Status.Conditions {
		if c.LastTransitionTime.After(t) {
			t = c.LastTransitionTime.Time
		}
	}
	if !t.IsZero() {
		return t
	}
	return p.CreationTimestamp.Time
}

// indexFailures is what the failed pods say about each index.
type indexFailures struct {
	next     map[int]int       // failure count a new pod of the index starts with
	lastFail map[int]time.Time // when the index last failed
	failed   map[int]bool      // indexes out of retries (or failed by a FailIndex rule)
}

// indexFailuresOf reads the failed pods of a Job with backoffLimitPerIndex:
// an index fails once a pod of it fails with backoffLimitPerIndex earlier
// failures, or matches a FailIndex rule.
func indexFailuresOf(j *batchv1.Job, pods []*corev1.Pod, known map[int]bool) indexFailures {
	f := indexFailures{next: map[int]int{}, lastFail: map[int]time.Time{}, failed: map[int]bool{}}
	for i := range known {
		f.failed[i] = true
	}
	limit := int(*j.Spec.BackoffLimitPerIndex)
	completions := int(*j.Spec.Completions)
	for _, p := range pods {
		i := indexOf(p)
		if i < 0 || i >= completions || !failedFor(j, p) {
			continue
		}
		if _, counts := matchFailurePolicy(j.Spec.PodFailurePolicy, p); !counts {
			continue
		}
		count := failureCount(p) + 1
		if count > f.next[i] {
			f.next[i] = count
		}
		if t := finishedTime(p); t.After(f.lastFail[i]) {
			f.lastFail[i] = t
		}
		if count > limit || failsIndex(j.Spec.PodFailurePolicy, p) {
			f.failed[i] = true
		}
	}
	return f
}

// indexOutcome is the Job-level verdict of failed indexes: more than
// maxFailedIndexes, or every index finished with some failed.
func indexOutcome(j *batchv1.Job, failed, succeeded map[int]bool) *outcome {
	if j.Spec.MaxFailedIndexes != nil && len(failed) > int(*j.Spec.MaxFailedIndexes) {
		return &outcome{batchv1.JobFailureTarget, batchv1.JobFailed, reasonMaxFailedIndexes, msgMaxFailedIndexes}
	}
	done := 0
	for i := 0; i < int(*j.Spec.Completions); i++ {
		if failed[i] || succeeded[i] {
			done++
		}
	}
	if len(failed) > 0 && done >= int(*j.Spec.Completions) {
		return &outcome{batchv1.JobFailureTarget, batchv1.JobFailed, reasonFailedIndexes, msgFailedIndexes}
	}
	return nil
}
