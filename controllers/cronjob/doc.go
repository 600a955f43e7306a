// Package cronjob is the CronJob controller: it creates a Job named
// "<cronjob>-<scheduled time in minutes since the epoch>" at each time of a
// standard cron schedule (five fields or @hourly-style macros, in
// spec.timeZone when set), honouring concurrencyPolicy (Allow, Forbid,
// Replace), startingDeadlineSeconds, suspend and the successful/failed jobs
// history limits, and keeps status.active, lastScheduleTime and
// lastSuccessfulTime, as upstream's controller does. Jobs created by hand
// from the CronJob (`kubectl create job --from=cronjob/x`) are tracked like
// its own.
//
// schedule.go and history.go hold the pure decisions (table-tested);
// controller.go wires them to the API through controller-runtime.
package cronjob
