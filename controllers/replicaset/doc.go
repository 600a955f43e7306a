// Package replicaset is the ReplicaSet controller: it keeps spec.replicas pods
// running for each ReplicaSet, as upstream's kube-controller-manager does.
//
// The pure decisions live in their own files and are table-tested: which pods
// count (pods.go), which to delete first (rank.go), how big each creation batch
// is (batch.go), what the status says (status.go) and when a stale informer
// cache may be trusted again (expectations.go). controller.go wires them to the
// API through controller-runtime. Pods are created with GenerateName
// "<replicaset>-", a controller owner reference (blockOwnerDeletion=true), and
// the events upstream records (SuccessfulCreate, SuccessfulDelete,
// FailedCreate), so `kubectl describe rs` tells the same story.
package replicaset
