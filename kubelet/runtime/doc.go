// Package runtime is the boundary between the pod workers and what actually
// runs containers: a small set of pod-level primitives (sandbox, image,
// start, stop, list) that the containerd runtime implements for real and the
// simulated runtime implements in memory for scale tests and envtest users.
// Decisions (what to start, when to back off, what status to report) belong
// to the pod workers, not to a runtime.
package runtime
