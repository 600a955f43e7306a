// Package kubelet is kubeseed's node agent: it registers a Node, renews its
// Lease, watches the pods bound to the node and runs them as containers on
// containerd (or, in the simulated mode for scale tests and envtest users,
// pretends to), reporting their status through the API as upstream's
// kubelet does. It also watches every Service, for the service environment
// variables containers start with; no pod starts before that list is in.
//
// It is embeddable: build a Config, call New, then Run, which blocks until
// its context ends. On return the containerd daemon the agent started is
// stopped, but pod containers keep running in their shims, so a restarted
// agent (or a restarted `kubeseed up`) finds them again by their labels and
// does not restart them. Deleting the pods first is how to leave nothing
// behind.
//
// Sub-packages: node (registration, lease), podworker (one goroutine per
// pod: admission, init containers, restarts with back-off, probes, hooks,
// status), runtime (the interface) with runtime/containerd and
// runtime/simulated, network (netns and CNI, /etc files), volumes, logs
// (containers' logs in the CRI log format: writing and reading them), server
// (the node's HTTPS endpoint for logs, exec, attach and port-forward),
// images (building, importing and listing OCI image tarballs) and registry
// (the read-only registry mirror on loopback that answers the node's pulls
// from its own containerd, started before any pod is worked).
package kubelet
