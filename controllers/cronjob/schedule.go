package cronjob

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
)

// nextDelta is added to the wait for the next schedule time, so the sync
// lands after it, as upstream does.
const nextDelta = 100 * time.Millisecond

// manyMissed is how many missed times make upstream warn TooManyMissedTimes.
const manyMissed = 100

// parseSchedule parses the schedule in the CronJob's time zone.
func parseSchedule(cj *batchv1.CronJob) (cron.Schedule, error) {
	spec := cj.Spec.Schedule
	if cj.Spec.TimeZone != nil {
		if _, err := time.LoadLocation(*cj.Spec.TimeZone); err != nil {
			return nil, fmt.Errorf("invalid timeZone %q: %w", *cj.Spec.TimeZone, err)
		}
		spec = "TZ=" + *cj.Spec.TimeZone + " " + spec
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// mostRecent returns the latest schedule time in (earliest, now], where
// earliest is the last schedule time (or creation), moved forward to the
// starting deadline when one is set; and how many times were missed.
func mostRecent(cj *batchv1.CronJob, now time.Time, sched cron.Schedule, withDeadline bool) (earliest time.Time, latest *time.Time, missed int64, err error) {
	earliest = cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		earliest = cj.Status.LastScheduleTime.Time
	}
	if withDeadline && cj.Spec.StartingDeadlineSeconds != nil {
		if d := now.Add(-time.Duration(*cj.Spec.StartingDeadlineSeconds) * time.Second); d.After(earliest) {
			earliest = d
		}
	}
	t1 := sched.Next(earliest)
	t2 := sched.Next(t1)
	if now.Before(t1) {
		return earliest, nil, 0, nil
	}
	if now.Before(t2) {
		return earliest, &t1, 1, nil
	}
	// Jump close to now instead of stepping through every missed time.
	between := int64(t2.Sub(t1).Round(time.Second).Seconds())
	if between < 1 {
		return earliest, nil, 0, fmt.Errorf("time difference between two schedules is less than 1 second")
	}
	missed = int64(now.Sub(t1).Seconds())/between + 1
	var last time.Time
	for t := sched.Next(t1.Add(time.Duration((missed-2)*between) * time.Second)); !t.After(now); t = sched.Next(t) {
		last = t
	}
	if last.IsZero() {
		return earliest, nil, missed, nil
	}
	return earliest, &last, missed, nil
}

// nextIn is how long until the sync after the next schedule time.
func nextIn(cj *batchv1.CronJob, now time.Time, sched cron.Schedule) time.Duration {
	earliest, latest, missed, err := mostRecent(cj, now, sched, false)
	from := now
	switch {
	case err != nil:
	case latest != nil:
		from = *latest
	case missed == 0:
		from = earliest
	}
	return sched.Next(from).Add(nextDelta).Sub(now)
}

// tooLate says the scheduled time is past its starting deadline.
func tooLate(cj *batchv1.CronJob, scheduled, now time.Time) bool {
	if cj.Spec.StartingDeadlineSeconds == nil {
		return false
	}
	return scheduled.Add(time.Duration(*cj.Spec.StartingDeadlineSeconds) * time.Second).Before(now)
}

// jobName is "<cronjob>-<scheduled time in minutes>", stable per schedule
// time so a retry never starts the same run twice.
func jobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}
