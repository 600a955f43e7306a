// Package job is the Job controller: it runs pods until spec.completions of
// them succeed (NonIndexed) or each index 0..completions-1 has succeeded
// (Indexed, with the completion index annotation, label, hostname and
// JOB_COMPLETION_INDEX), at most spec.parallelism at a time, as upstream's
// controller does.
//
// Pods carry the batch.kubernetes.io/job-tracking finalizer so none is lost
// uncounted: a finished pod's uid goes to status.uncountedTerminatedPods, its
// finalizer is removed, then it moves to the succeeded/failed counters.
// Failures beyond backoffLimit, or a run longer than activeDeadlineSeconds,
// first set the FailureTarget condition and delete the active pods, then
// Failed; success sets SuccessCriteriaMet, then Complete with completionTime,
// the order upstream's API validation requires. Failed pods are replaced
// after an exponential back-off (10s doubling, at most 10 minutes); a
// podFailurePolicy can fail the Job at once (FailJob), ignore a failure
// (Ignore) or count it (Count); with backoffLimitPerIndex each index of an
// Indexed Job retries and backs off on its own (status.failedIndexes,
// maxFailedIndexes, FailIndex rules); suspend deletes active pods and sets
// the Suspended condition.
//
// decide.go, indexes.go, failurepolicy.go and perindex.go are the pure
// decisions (table-tested);
// controller.go wires them to the API through controller-runtime.
package job
