package ownership

import (
	"context"
	"reflect"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ControllerUIDIndex indexes cached objects by their controller's uid, ""
// for orphans, so that a controller reads the objects it may claim (its own
// and matching orphans) instead of copying its whole namespace out of the
// cache on every sync, which made syncs quadratic in the namespace's size.
const ControllerUIDIndex = "kubeseed.io/controller-uid"

// indexed records the (manager, type) pairs whose cache has
// ControllerUIDIndex: several controllers read pods by it, each may run
// without the others, and the cache refuses a second registration.
var (
	indexMu sync.Mutex
	indexed = map[indexKey]bool{}
)

type indexKey struct {
	mgr ctrl.Manager
	typ reflect.Type
}

// IndexControllerUID registers ControllerUIDIndex for obj's type in mgr's
// cache, once however many controllers ask for it.
func IndexControllerUID(mgr ctrl.Manager, obj client.Object) error {
	key := indexKey{mgr: mgr, typ: reflect.TypeOf(obj)}
	indexMu.Lock()
	defer indexMu.Unlock()
	if indexed[key] {
		return nil
	}
	err := mgr.GetFieldIndexer().IndexField(context.Background(), obj, ControllerUIDIndex, func(o client.Object) []string {
		if ref := metav1.GetControllerOf(o); ref != nil {
			return []string{string(ref.UID)}
		}
		return []string{""}
	})
	if err == nil {
		indexed[key] = true
	}
	return err
}

// ListCandidates lists into list the objects of ns that owner may claim:
// those it controls, and orphans its selector matches. c must read from a
// cache with ControllerUIDIndex for the list's type.
func ListCandidates(ctx context.Context, c client.Reader, ns string, owner metav1.Object, selector labels.Selector,
	list client.ObjectList, orphans client.ObjectList) error {
	if err := c.List(ctx, list, client.InNamespace(ns), client.MatchingFields{ControllerUIDIndex: string(owner.GetUID())}); err != nil {
		return err
	}
	return c.List(ctx, orphans, client.InNamespace(ns), client.MatchingFields{ControllerUIDIndex: ""},
		client.MatchingLabelsSelector{Selector: selector})
}

// Pointers returns pointers to items, in the form Claim takes.
func Pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
