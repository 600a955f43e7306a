// Package statefulset is the StatefulSet controller: pods with stable names
// "<set>-<ordinal>", hostname and subdomain, stable storage from
// volumeClaimTemplates (claims "<claim>-<set>-<ordinal>", kept or deleted by
// persistentVolumeClaimRetentionPolicy), ordered (OrderedReady) or parallel
// pod management, RollingUpdate with partition and OnDelete, and template
// history in ControllerRevisions so `kubectl rollout history|undo|status sts`
// work, all as upstream's controller does.
//
// identity.go builds pods and claims (pure), history.go the revision patch
// and its application (pure), plan.go decides the next steps of a sync from
// the observed pods (pure, table-tested), and controller.go wires them to the
// API through controller-runtime.
package statefulset
