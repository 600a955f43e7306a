// Package garbagecollector deletes objects whose owners are gone, following
// metadata.ownerReferences by uid, as upstream's garbage collector does.
//
// It discovers every resource the API server serves that can be listed,
// watched and deleted (CRDs included, rediscovered periodically) and keeps a
// metadata-only informer on each (controller-runtime PartialObjectMetadata),
// from which graph.go maintains the owner -> dependents graph. decide.go holds
// the pure decisions: what to do with a dependent given the state of its
// owners, when a foreground deletion may finish. collector.go wires them:
// background propagation deletes dependents once their owner is gone;
// foreground propagation (the foregroundDeletion finalizer on the owner)
// deletes the dependents first and removes the finalizer once no dependent
// with blockOwnerDeletion remains; orphan propagation (the orphan finalizer)
// removes the owner's references from its dependents, then the finalizer.
package garbagecollector
