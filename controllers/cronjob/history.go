package cronjob

import (
	"sort"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// finishedAs returns the Job's terminal condition type, or "".
func finishedAs(j *batchv1.Job) batchv1.JobConditionType {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type
		}
	}
	return ""
}

// historyToDelete returns the oldest finished jobs beyond the successful
// (default 3) and failed (default 1) history limits.
func historyToDelete(cj *batchv1.CronJob, jobs []*batchv1.Job) []*batchv1.Job {
	var ok, failed []*batchv1.Job
	for _, j := range jobs {
		switch finishedAs(j) {
		case batchv1.JobComplete:
			ok = append(ok, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	var out []*batchv1.Job
	out = append(out, oldest(ok, int(ptr.Deref(cj.Spec.SuccessfulJobsHistoryLimit, 3)))...)
	out = append(out, oldest(failed, int(ptr.Deref(cj.Spec.FailedJobsHistoryLimit, 1)))...)
	return out
}

// oldest returns the jobs beyond keep, oldest start first.
func oldest(jobs []*batchv1.Job, keep int) []*batchv1.Job {
	if len(jobs) <= keep {
		return nil
	}
	sort.SliceStable(jobs, func(i, j int) bool {
		a, b := jobs[i].Status.StartTime, jobs[j].Status.StartTime
		switch {
		case a == nil && b == nil:
			return jobs[i].Name < jobs[j].Name
		case a == nil:
			return false
		case b == nil:
			return true
		case a.Equal(b):
			return jobs[i].Name < jobs[j].Name
		}
		return a.Before(b)
	})
	return jobs[:len(jobs)-keep]
}
