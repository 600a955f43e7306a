// Package scheduler places pods on nodes, as upstream's default-scheduler does,
// for pods whose spec.schedulerName is "default-scheduler" (or empty) and that
// have no spec.nodeName yet.
//
// The package is split the way upstream's scheduling framework is: pure
// decisions in filter.go (can this pod run on this node, and if not, in what
// words), score.go (which feasible node is best) and message.go (the
// "0/3 nodes are available: ..." summary), all table-tested without an API
// server; state in cache.go (nodes and the pods bound or assumed on them, so a
// burst of pods is placed without waiting for each binding to round-trip) and
// queue.go (pending pods by priority, with unschedulable pods parked until a
// node or pod changes); and wiring in scheduler.go, which feeds both from
// informers and binds through the pods/binding subresource.
package scheduler
