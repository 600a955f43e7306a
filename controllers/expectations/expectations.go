package expectations

import (
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TTL bounds how long a controller waits for its own writes to show in the
// cache before it trusts the cache again (upstream waits 5 minutes).
const TTL = 5 * time.Minute

// Expectations remembers, per controller object (a ReplicaSet, a DaemonSet),
// the pods the controller created or deleted that the informer cache has not
// shown yet. While any are pending the object is not acted on again, so a
// stale cache never makes it create twice (the bug upstream's
// ControllerExpectations exist to prevent).
type Expectations struct {
	mu  sync.Mutex
	set map[types.NamespacedName]*pending
}

type pending struct {
	creates map[string]bool    // pod names created, not yet seen in the cache
	deletes map[types.UID]bool // pod uids deleted, still seen as live
	since   time.Time
}

// New returns empty expectations.
func New() *Expectations {
	return &Expectations{set: map[types.NamespacedName]*pending{}}
}

// Expect records writes just made for key: names of pods created, uids of
// pods deleted.
func (e *Expectations) Expect(key types.NamespacedName, created []string, deleted []types.UID, now time.Time) {
	if len(created) == 0 && len(deleted) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.set[key]
	if p == nil {
		p = &pending{creates: map[string]bool{}, deletes: map[types.UID]bool{}}
		e.set[key] = p
	}
	p.since = now
	for _, n := range created {
		p.creates[n] = true
	}
	for _, u := range deleted {
		p.deletes[u] = true
	}
}

// ObserveGone records that a pod left the cache (a watch delete): it was
// created and deleted before the set looked, or its deletion finished.
func (e *Expectations) ObserveGone(key types.NamespacedName, pod *corev1.Pod) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.set[key]; p != nil {
		delete(p.creates, pod.Name)
		delete(p.deletes, pod.UID)
	}
}

// Satisfied checks the pending writes of key against the pods the cache holds
// now (all pods of the namespace, owned or not) and reports whether the set
// may act on the cache. Pending writes older than TTL are dropped.
func (e *Expectations) Satisfied(key types.NamespacedName, cached []corev1.Pod, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.set[key]
	if p == nil {
		return true
	}
	if now.Sub(p.since) > TTL {
		delete(e.set, key)
		return true
	}
	live := map[types.UID]bool{}
	for i := range cached {
		pod := &cached[i]
		delete(p.creates, pod.Name)
		if pod.DeletionTimestamp == nil {
			live[pod.UID] = true
		}
	}
	for u := range p.deletes {
		if !live[u] {
			delete(p.deletes, u)
		}
	}
	if len(p.creates) == 0 && len(p.deletes) == 0 {
		delete(e.set, key)
		return true
	}
	return false
}

// Forget drops everything pending for a set that no longer exists.
func (e *Expectations) Forget(key types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.set, key)
}
