// Package stats measures what the node and its pods' containers use (CPU
// time and memory working set, read from the kernel: /proc for the node,
// the containers' cgroups for them) and serves it as upstream's kubelet does
// at /metrics/resource, the Prometheus endpoint metrics-server (and
// kubeseed's API server, for kubectl top) scrapes.
//
// Working set is usage minus inactive file pages, as cAdvisor counts it, so
// that figures match what kubectl top shows on an upstream cluster. The
// simulated runtime has no cgroups: its pods report nothing.
package stats
