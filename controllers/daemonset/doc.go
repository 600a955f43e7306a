// Package daemonset is the DaemonSet controller: one pod per eligible node,
// as upstream's controller runs it. A node is eligible when it matches the
// template's nodeSelector and required node affinity and its NoSchedule and
// NoExecute taints are tolerated (with the tolerations every daemon pod gets);
// a pod keeps running while its node's NoExecute taints are tolerated. Pods
// are pinned to their node through a required node affinity on
// metadata.name, for the scheduler to bind, and carry the
// controller-revision-hash of the template's ControllerRevision. Updates roll
// out with maxUnavailable, or with maxSurge (a new pod starts beside the old
// one, which goes once the new one is available), or when pods are deleted
// (OnDelete).
//
// nodes.go decides eligibility and builds pods, plan.go decides what to
// create and delete and the status (both pure, table-tested), controller.go
// wires them to the API through controller-runtime.
package daemonset
