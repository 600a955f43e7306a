// Package ttlafterfinished deletes finished Jobs once their
// spec.ttlSecondsAfterFinished has passed, counted from completionTime (or
// the time the Failed condition was set), as upstream's TTL-after-finished
// controller does: with foreground propagation, so the Job goes after its
// pods.
package ttlafterfinished
