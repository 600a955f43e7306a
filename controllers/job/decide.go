package job

import (
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// trackingFinalizer keeps a Job's pods until the Job has counted them.
const trackingFinalizer = batchv1.JobTrackingFinalizer

// Back-off between a failed pod and its replacement, upstream's defaults.
const (
	DefaultPodFailureBackoff = 10 * time.Second
	MaxPodFailureBackoff     = 10 * time.Minute
)

// Condition reasons and messages, upstream's words.
const (
	reasonCompletionsReached = batchv1.JobReasonCompletionsReached
	msgCompletionsReached    = "Reached expected number of succeeded pods"
	reasonBackoffLimit       = batchv1.JobReasonBackoffLimitExceeded
	msgBackoffLimit          = "Job has reached the specified backoff limit"
	reasonDeadline           = batchv1.JobReasonDeadlineExceeded
	msgDeadline              = "Job was active longer than specified deadline"
)

func hasFinalizer(p *corev1.Pod) bool {
	for _, f := range p.Finalizers {
		if f == trackingFinalizer {
			return true
		}
	}
	return false
}

// podFailed says a pod counts as failed: phase Failed, or deleted before it
// succeeded (the default podReplacementPolicy, TerminatingOrFailed).
func podFailed(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed || (p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded)
}

func podActive(p *corev1.Pod) bool {
	return p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

func podTerminating(p *corev1.Pod) bool {
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func isIndexed(j *batchv1.Job) bool {
	return j.Spec.CompletionMode != nil && *j.Spec.CompletionMode == batchv1.IndexedCompletion
}

func suspended(j *batchv1.Job) bool { return ptr.Deref(j.Spec.Suspend, false) }

func getCondition(s *batchv1.JobStatus, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

func conditionTrue(s *batchv1.JobStatus, t batchv1.JobConditionType) bool {
	c := getCondition(s, t)
	return c != nil && c.Status == corev1.ConditionTrue
}

// finished says the Job has its terminal condition.
func finished(j *batchv1.Job) bool {
	return conditionTrue(&j.Status, batchv1.JobComplete) || conditionTrue(&j.Status, batchv1.JobFailed)
}

// setCondition adds or updates a condition; it reports a change.
func setCondition(s *batchv1.JobStatus, t batchv1.JobConditionType, status corev1.ConditionStatus, reason, msg string, now time.Time) bool {
	if c := getCondition(s, t); c != nil {
		if c.Status == status && c.Reason == reason && c.Message == msg {
			return false
		}
		if c.Status != status {
			c.LastTransitionTime = metav1.NewTime(now)
		}
		c.Status, c.Reason, c.Message, c.LastProbeTime = status, reason, msg, metav1.NewTime(now)
		return true
	}
	s.Conditions = append(s.Conditions, batchv1.JobCondition{Type: t, Status: status, Reason: reason, Message: msg,
		LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)})
	return true
}

// outcome is the terminal state a Job is heading to, if any.
type outcome struct {
	interim, final batchv1.JobConditionType
	reason, msg    string
}

// decideOutcome applies upstream's order: an outcome already recorded
// stands; then failure (a podFailurePolicy FailJob rule, failures beyond
// backoffLimit, the active deadline); then success (completions reached with
// no pod running).
func decideOutcome(j *batchv1.Job, succeeded, failed, active int32, failJobMsg *string, now time.Time) *outcome {
	st := &j.Status
	if c := getCondition(st, batchv1.JobSuccessCriteriaMet); c != nil && c.Status == corev1.ConditionTrue {
		return &outcome{batchv1.JobSuccessCriteriaMet, batchv1.JobComplete, c.Reason, c.Message}
	}
	if c := getCondition(st, batchv1.JobFailureTarget); c != nil && c.Status == corev1.ConditionTrue {
		return &outcome{batchv1.JobFailureTarget, batchv1.JobFailed, c.Reason, c.Message}
	}
	if failJobMsg != nil {
		return &outcome{batchv1.JobFailureTarget, batchv1.JobFailed, reasonPodFailurePolicy, *failJobMsg}
	}
	if failed > ptr.Deref(j.Spec.BackoffLimit, 6) {
		return &outcome{batchv1.JobFailureTarget, batchv1.JobFailed, reasonBackoffLimit, msgBackoffLimit}
	}
	if pastDeadline(j, now) {
		return &outcome{batchv1.JobFailureTarget, batchv1.JobFailed, reasonDeadline, msgDeadline}
	}
	complete := false
	if j.Spec.Completions == nil {
		complete = succeeded > 0 && active == 0
	} else {
		complete = succeeded >= *j.Spec.Completions && active == 0
	}
	if complete {
		return &outcome{batchv1.JobSuccessCriteriaMet, batchv1.JobComplete, reasonCompletionsReached, msgCompletionsReached}
	}
	return nil
}

func pastDeadline(j *batchv1.Job, now time.Time) bool {
	if j.Spec.ActiveDeadlineSeconds == nil || j.Status.StartTime == nil || suspended(j) {
		return false
	}
	return now.Sub(j.Status.StartTime.Time) >= time.Duration(*j.Spec.ActiveDeadlineSeconds)*time.Second
}

// deadlineIn is how long until the active deadline passes (0: none pending).
func deadlineIn(j *batchv1.Job, now time.Time) time.Duration {
	if j.Spec.ActiveDeadlineSeconds == nil || j.Status.StartTime == nil || suspended(j) {
		return 0
	}
	return j.Status.StartTime.Add(time.Duration(*j.Spec.ActiveDeadlineSeconds) * time.Second).Sub(now)
}

// wantActive is how many pods should run now: parallelism, bounded by the
// completions still missing; once any pod succeeded in a Job without
// completions, whatever runs finishes and nothing new starts.
func wantActive(j *batchv1.Job, succeeded, active int32) int32 {
	parallelism := ptr.Deref(j.Spec.Parallelism, 1)
	if suspended(j) {
		return 0
	}
	if j.Spec.Completions == nil {
		if succeeded > 0 {
			return min(active, parallelism)
		}
		return parallelism
	}
	return max(min(*j.Spec.Completions-succeeded, parallelism), 0)
}

// backoffDelay is the wait before replacing pods after failures in a row:
// base doubled per further failure, capped at MaxPodFailureBackoff.
func backoffDelay(base time.Duration, failuresInARow int) time.Duration {
	if failuresInARow <= 0 {
		return 0
	}
	d := base
	for i := 1; i < failuresInARow; i++ {
		d *= 2
		if d >= MaxPodFailureBackoff {
			return MaxPodFailureBackoff
		}
	}
	return min(d, MaxPodFailureBackoff)
}

// toDelete picks n active pods to remove, least progressed first: not ready
// before ready, newest first.
func toDelete(active []*corev1.Pod, n int) []*corev1.Pod {
	if n <= 0 {
		return nil
	}
	sorted := append([]*corev1.Pod(nil), active...)
	for i := 1; i < len(sorted); i++ {
		for k := i; k > 0 && lessProgressed(sorted[k], sorted[k-1]); k-- {
			sorted[k], sorted[k-1] = sorted[k-1], sorted[k]
		}
	}
	return sorted[:min(n, len(sorted))]
}

func lessProgressed(a, b *corev1.Pod) bool {
	if podReady(a) != podReady(b) {
		return !podReady(a)
	}
	return b.CreationTimestamp.Before(&a.CreationTimestamp)
}

func sortUIDs(u []types.UID) {
	sort.Slice(u, func(i, j int) bool { return u[i] < u[j] })
}
