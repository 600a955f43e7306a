// Package disruption keeps PodDisruptionBudget status true to the pods it
// selects, as upstream's disruption controller does, so that the API server's
// pods/eviction (kubectl drain) can refuse an eviction that would take an
// application below its budget.
//
// Per budget it counts the selected pods that are Ready and not on their way
// out (being deleted, or recently evicted and listed in status.disruptedPods),
// works out how many must stay healthy (minAvailable, or the controllers'
// scale minus maxUnavailable; percentages are taken of the owning
// controllers' scale) and writes currentHealthy, desiredHealthy,
// expectedPods, disruptionsAllowed and the DisruptionAllowed condition
// (SufficientPods, InsufficientPods, SyncFailed).
//
// The decisions are pure functions in budget.go; controller.go wires them to
// the cluster and stale.go clears DisruptionTarget conditions that an
// eviction set on a pod it then did not delete.
package disruption
