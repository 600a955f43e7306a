// Package nodelifecycle watches node health and acts on it, as upstream's
// node lifecycle and taint eviction controllers do:
//
//   - a node whose kubelet stops renewing its Lease in kube-node-lease (and
//     stops updating its Ready condition) for the grace period gets its
//     Ready, MemoryPressure, DiskPressure and PIDPressure conditions set to
//     Unknown, and its pods are marked not ready so endpoints drop them;
//   - every node carries the taints its conditions call for: not-ready or
//     unreachable (NoSchedule and NoExecute), memory/disk/pid pressure,
//     network-unavailable and unschedulable (NoSchedule), and loses them when
//     the conditions clear, which also lifts the not-ready taint the API
//     server puts on new nodes;
//   - pods on a node with NoExecute taints they do not tolerate are deleted,
//     at once or after their tolerationSeconds, so their controllers replace
//     them elsewhere.
//
// The decisions are pure functions (taints.go, health.go, eviction.go); the
// controller in controller.go wires them to the API.
package nodelifecycle
