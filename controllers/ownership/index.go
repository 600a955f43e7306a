package ownership

import (
	"context"

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

// IndexControllerUID registers ControllerUIDIndex for obj's type in mgr's
// cache. Register it once per type per manager.
func IndexControllerUID(mgr ctrl.Manager, obj client.Object) error {
	return mgr.GetFieldIndexer().IndexField(context.Background(), obj, ControllerUIDIndex, func(o client.Object) []string {
		if ref := metav1.GetControllerOf(o); ref != nil {
			return []string{string(ref.UID)}
		}
		return []string{""}
	})
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
