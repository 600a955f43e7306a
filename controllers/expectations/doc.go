// Package expectations lets a controller that creates pods with generated
// names trust its informer cache again only once the cache shows its own
// writes, the guard upstream's ControllerExpectations give the ReplicaSet and
// DaemonSet controllers against creating twice from a stale cache.
package expectations
