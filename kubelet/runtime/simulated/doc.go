// Package simulated is a runtime without containers, for scale tests and
// for envtest users who want pods to behave as on a node without running
// anything: a started container counts as running after a configurable
// delay, and a pod can ask for its containers to exit (so Jobs' pods
// succeed or fail) through annotations:
//
//	simulated.kubeseed.io/exit-code: "0"     exit with this code ...
//	simulated.kubeseed.io/run-seconds: "2"   ... after running this long
//
// Pod addresses are handed out from the node's pod CIDR in memory; nothing
// is reachable at them.
package simulated
