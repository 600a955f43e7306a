// Package consistency keeps a controller from acting on a cache that has not
// yet seen the controller's own writes, as upstream's controllers do since
// 1.36 (the StaleControllerConsistency* features, on by default).
//
// A controller's cache of each type is updated by its own watch, at its own
// pace. After a Job controller records a finished pod in the Job's status and
// removes the pod's finalizer, the pod cache may already show the pod without
// its finalizer while the Job cache still shows the status from before: the
// pod then looks neither counted nor pending, and its index is run again. A
// Tracker remembers the resource version of every write made for an owner
// and, before the owner's next sync, says whether each cache has caught up.
package consistency
