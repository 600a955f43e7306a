package ttlafterfinished

import (
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestExpiresIn(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	job := func(ttl *int32, cond batchv1.JobConditionType) *batchv1.Job {
		j := &batchv1.Job{Spec: batchv1.JobSpec{TTLSecondsAfterFinished: ttl}}
		if cond != "" {
			j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)}}
		}
		if cond == batchv1.JobComplete {
			j.Status.CompletionTime = &metav1.Time{Time: t0.Add(-time.Second)}
		}
		return j
	}
	cases := []struct {
		name   string
		job    *batchv1.Job
		left   time.Duration
		expire bool
	}{
		{"no ttl", job(nil, batchv1.JobComplete), 0, false},
		{"running", job(ptr.To[int32](10), ""), 0, false},
		{"complete counts from completionTime", job(ptr.To[int32](10), batchv1.JobComplete), 4 * time.Second, true},
		{"failed counts from the condition", job(ptr.To[int32](10), batchv1.JobFailed), 5 * time.Second, true},
		{"ttl 0 expires at once", job(ptr.To[int32](0), batchv1.JobFailed), -5 * time.Second, true},
	}
	for _, tc := range cases {
		left, ok := expiresIn(tc.job, t0.Add(5*time.Second))
		if left != tc.left || ok != tc.expire {
			t.Errorf("%s: expiresIn = %v, %v; want %v, %v", tc.name, left, ok, tc.left, tc.expire)
		}
	}
}
