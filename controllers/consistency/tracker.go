package consistency

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// RetryAfter is how long a sync held back by a stale cache waits at most:
// the cache's own event for the write normally queues the owner sooner.
const RetryAfter = time.Second

// Store is the part of a client-go store a Tracker reads: the resource
// version of the last event applied to it.
type Store interface {
	LastStoreSyncResourceVersion() string
}

// StaleError says which cache is behind a write.
type StaleError struct {
	Type    string
	Wrote   string
	Applied string
}

func (e *StaleError) Error() string {
	return fmt.Sprintf("the %s cache is at resource version %s, older than this controller's write at %s", e.Type, e.Applied, e.Wrote)
}

// Tracker records writes per owner and compares them with the caches. A nil
// Tracker records nothing and is always ready.
type Tracker struct {
	// storeOf finds the cache store of an object's type (nil: none, and
	// writes of that type are not waited for).
	storeOf func(obj client.Object) Store

	mu     sync.Mutex
	stores map[reflect.Type]Store
	owners map[types.NamespacedName]*owner
}

type owner struct {
	uid types.UID
	// wrote is the newest resource version written per object type.
	wrote map[reflect.Type]string
}

// New returns a Tracker reading the store of each type through storeOf.
func New(storeOf func(obj client.Object) Store) *Tracker {
	return &Tracker{storeOf: storeOf, stores: map[reflect.Type]Store{}, owners: map[types.NamespacedName]*owner{}}
}

// ForCache returns a Tracker over the informers of a controller-runtime
// cache (a manager's), which must hold the types written.
func ForCache(c cache.Informers) *Tracker {
	return New(func(obj client.Object) Store {
		inf, err := c.GetInformer(context.Background(), obj, cache.BlockUntilSynced(false))
		if err != nil {
			return nil
		}
		if s, ok := inf.(interface{ GetStore() toolscache.Store }); ok {
			return s.GetStore()
		}
		return nil
	})
}

// Wrote records that a write made while syncing the owner (with uid ownerUID)
// returned obj, at obj's resource version.
func (t *Tracker) Wrote(ownerKey types.NamespacedName, ownerUID types.UID, obj client.Object) {
	rv := obj.GetResourceVersion()
	if t == nil || rv == "" {
		return
	}
	typ := reflect.TypeOf(obj)
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.stores[typ]; !ok {
		t.stores[typ] = t.storeOf(obj)
	}
	o := t.owners[ownerKey]
	if o == nil || o.uid != ownerUID {
		// A new owner of the same name starts afresh.
		o = &owner{uid: ownerUID, wrote: map[reflect.Type]string{}}
		t.owners[ownerKey] = o
	}
	if prev, ok := o.wrote[typ]; ok {
		if cmp, err := resourceversion.CompareResourceVersion(prev, rv); err == nil && cmp >= 0 {
			return
		}
	}
	o.wrote[typ] = rv
}

// Ready returns nil once every cache has applied the owner's writes (and
// then forgets them), or a *StaleError naming a cache that has not. A store
// that cannot tell (no resource version yet, or versions that do not
// compare) never holds a sync back.
func (t *Tracker) Ready(ownerKey types.NamespacedName) error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.owners[ownerKey]
	if o == nil {
		return nil
	}
	for typ, wrote := range o.wrote {
		s := t.stores[typ]
		if s == nil {
			continue
		}
		applied := s.LastStoreSyncResourceVersion()
		if applied == "" {
			continue
		}
		if cmp, err := resourceversion.CompareResourceVersion(wrote, applied); err == nil && cmp > 0 {
			return &StaleError{Type: typ.Elem().Name(), Wrote: wrote, Applied: applied}
		}
	}
	delete(t.owners, ownerKey)
	return nil
}

// Forget drops what was recorded for an owner (it was deleted).
func (t *Tracker) Forget(ownerKey types.NamespacedName) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.owners, ownerKey)
}
