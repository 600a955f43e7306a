// Package deployment is the Deployment controller: it rolls a Deployment's
// pod template out through ReplicaSets named "<deployment>-<pod-template-hash>",
// as upstream's kube-controller-manager does, so that stock `kubectl rollout
// status|history|undo|pause|resume|restart` work against it.
//
// Files follow upstream's split by concern. hash.go names ReplicaSets the way
// upstream does (same hash, same encoding). replicas.go holds the arithmetic
// (maxSurge/maxUnavailable fenceposts, proportional scaling). rollback.go holds
// the revision bookkeeping: a template that matches an older ReplicaSet reuses
// it and moves it to the next revision, which is all a client-side
// `kubectl rollout undo` needs. rolling.go and recreate.go are the two
// strategies, progress.go the status and its Progressing/Available conditions,
// sync.go scaling, paused deployments and history clean-up. The pure functions
// are table-tested; controller.go and the methods taking a context wire them to
// the API through controller-runtime.
package deployment
