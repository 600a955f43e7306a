package cronjob

import (
	"reflect"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func cronJob(schedule string, created time.Time, last *time.Time) *batchv1.CronJob {
	cj := &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "tick", CreationTimestamp: metav1.NewTime(created)},
		Spec: batchv1.CronJobSpec{Schedule: schedule}}
	if last != nil {
		cj.Status.LastScheduleTime = &metav1.Time{Time: *last}
	}
	return cj
}

func TestMostRecent(t *testing.T) {
	at := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	cases := []struct {
		name       string
		cj         *batchv1.CronJob
		now        time.Time
		want       *time.Time
		wantMissed int64
	}{
		{"nothing due yet", cronJob("*/5 * * * *", t0, nil), t0.Add(4 * time.Minute), nil, 0},
		{"first run due", cronJob("*/5 * * * *", t0, nil), t0.Add(6 * time.Minute), at(5 * time.Minute), 1},
		{"after the last run", cronJob("*/5 * * * *", t0, at(5*time.Minute)), t0.Add(9 * time.Minute), nil, 0},
		{"missed runs: latest only", cronJob("@hourly", t0, nil), t0.Add(5*time.Hour + 10*time.Minute), at(5 * time.Hour), 5},
		{"macro", cronJob("@daily", t0, nil), t0.Add(13 * time.Hour), at(12 * time.Hour), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseSchedule(tc.cj)
			if err != nil {
				t.Fatal(err)
			}
			_, got, missed, err := mostRecent(tc.cj, tc.now, s, true)
			if err != nil || !reflect.DeepEqual(got, tc.want) || missed != tc.wantMissed {
				t.Errorf("mostRecent = %v, %d, %v; want %v, %d", got, missed, err, tc.want, tc.wantMissed)
			}
		})
	}
}

func TestStartingDeadlineAndTimeZone(t *testing.T) {
	cj := cronJob("0 * * * *", t0, nil)
	cj.Spec.StartingDeadlineSeconds = ptr.To[int64](60)
	s, _ := parseSchedule(cj)
	// 13:00 was due; at 13:05 the 60s deadline has passed and it is skipped.
	if _, got, _, _ := mostRecent(cj, t0.Add(65*time.Minute), s, true); got != nil {
		t.Errorf("a run past its starting deadline was still due: %v", got)
	}
	if !tooLate(cj, t0.Add(time.Hour), t0.Add(62*time.Minute)) || tooLate(cj, t0.Add(time.Hour), t0.Add(60*time.Minute+30*time.Second)) {
		t.Error("tooLate wrong")
	}
	tz := cronJob("0 9 * * *", t0, nil)
	tz.Spec.TimeZone = ptr.To("Asia/Tokyo") // 09:00 JST is 00:00 UTC
	s, err := parseSchedule(tz)
	if err != nil {
		t.Fatal(err)
	}
	if next := s.Next(t0); !next.Equal(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("next in Asia/Tokyo = %v", next.UTC())
	}
	tz.Spec.TimeZone = ptr.To("Mars/Olympus")
	if _, err := parseSchedule(tz); err == nil {
		t.Error("unknown time zone accepted")
	}
	if _, err := parseSchedule(cronJob("not a schedule", t0, nil)); err == nil {
		t.Error("bad schedule accepted")
	}
}

func TestJobNameAndTemplate(t *testing.T) {
	cj := cronJob("* * * * *", t0, nil)
	cj.Namespace = "ns"
	cj.Spec.JobTemplate.Labels = map[string]string{"app": "tick"}
	j, err := newJob(cj, t0)
	if err != nil {
		t.Fatal(err)
	}
	if j.Name != "tick-29454480" || j.Labels["app"] != "tick" || j.Annotations[batchv1.CronJobScheduledTimestampAnnotation] != "2026-01-01T12:00:00Z" {
		t.Errorf("job = %+v", j.ObjectMeta)
	}
}

func TestHistoryToDelete(t *testing.T) {
	job := func(name string, start int, cond batchv1.JobConditionType) *batchv1.Job {
		j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: batchv1.JobStatus{StartTime: &metav1.Time{Time: t0.Add(time.Duration(start) * time.Minute)}}}
		if cond != "" {
			j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: corev1.ConditionTrue}}
		}
		return j
	}
	cj := cronJob("* * * * *", t0, nil)
	cj.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](2)
	jobs := []*batchv1.Job{job("ok3", 3, batchv1.JobComplete), job("ok1", 1, batchv1.JobComplete), job("ok2", 2, batchv1.JobComplete),
		job("f1", 1, batchv1.JobFailed), job("f2", 2, batchv1.JobFailed), job("running", 0, "")}
	var got []string
	for _, j := range historyToDelete(cj, jobs) {
		got = append(got, j.Name)
	}
	if want := []string{"ok1", "f1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("historyToDelete = %v, want %v", got, want)
	}
}
