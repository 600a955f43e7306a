package ownership

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Action is what Decide says to do with one candidate object.
type Action int

const (
	// Ignore: the object is not ours and stays so.
	Ignore Action = iota
	// Keep: the object is ours and still matches.
	Keep
	// Adopt: an orphan that matches our selector.
	Adopt
	// Release: ours, but its labels no longer match.
	Release
)

// Decide is the pure claim rule for one object against one controller.
// ownerDeleting says the controller is being deleted, in which case it adopts
// nothing (its dependents are about to be collected).
func Decide(obj metav1.Object, ownerUID types.UID, selector labels.Selector, ownerDeleting bool) Action {
	ref := metav1.GetControllerOfNoCopy(obj)
	matches := selector.Matches(labels.Set(obj.GetLabels()))
	if ref != nil {
		if ref.UID != ownerUID {
			return Ignore
		}
		if matches {
			return Keep
		}
		if ownerDeleting || obj.GetDeletionTimestamp() != nil {
			// Releasing a dying object or from a dying owner achieves nothing.
			return Keep
		}
		return Release
	}
	if !matches || ownerDeleting || obj.GetDeletionTimestamp() != nil {
		return Ignore
	}
	return Adopt
}

// NewControllerRef is the reference a controller sets on what it creates or
// adopts: controller=true and blockOwnerDeletion=true, as upstream sets them.
func NewControllerRef(owner metav1.Object, apiVersion, kind string) metav1.OwnerReference {
	t := true
	return metav1.OwnerReference{
		APIVersion:         apiVersion,
		Kind:               kind,
		Name:               owner.GetName(),
		UID:                owner.GetUID(),
		Controller:         &t,
		BlockOwnerDeletion: &t,
	}
}

type patchMeta struct {
	OwnerReferences []any     `json:"ownerReferences"`
	UID             types.UID `json:"uid"`
}

type patchBody struct {
	Metadata patchMeta `json:"metadata"`
}

// AdoptPatch makes obj a dependent of the controller ref. The uid in the patch
// makes it fail if obj was deleted and recreated meanwhile.
func AdoptPatch(objUID types.UID, ref metav1.OwnerReference) client.Patch {
	b, _ := json.Marshal(patchBody{Metadata: patchMeta{OwnerReferences: []any{ref}, UID: objUID}})
	return client.RawPatch(types.StrategicMergePatchType, b)
}

// ReleasePatch removes the owner reference with ownerUID from the object.
func ReleasePatch(objUID, ownerUID types.UID) client.Patch {
	del := map[string]any{"$patch": "delete", "uid": ownerUID}
	b, _ := json.Marshal(patchBody{Metadata: patchMeta{OwnerReferences: []any{del}, UID: objUID}})
	return client.RawPatch(types.StrategicMergePatchType, b)
}

// Claim applies Decide to every candidate, patching adoptions and releases,
// and returns the objects the owner now controls. canAdopt is called once,
// before the first adoption, to recheck against the API (not the cache) that
// the owner still exists and is not being deleted, as upstream does.
func Claim[T client.Object](ctx context.Context, c client.Client, owner metav1.Object, ref metav1.OwnerReference,
	selector labels.Selector, candidates []T, canAdopt func(context.Context) error) ([]T, error) {
	var owned []T
	var errs []error
	checked := false
	for _, obj := range candidates {
		switch Decide(obj, owner.GetUID(), selector, owner.GetDeletionTimestamp() != nil) {
		case Keep:
			owned = append(owned, obj)
		case Adopt:
			if !checked {
				checked = true
				if err := canAdopt(ctx); err != nil {
					return owned, fmt.Errorf("cannot adopt: %w", err)
				}
			}
			if err := c.Patch(ctx, obj, AdoptPatch(obj.GetUID(), ref)); err != nil {
				if !apierrors.IsNotFound(err) {
					errs = append(errs, fmt.Errorf("adopting %s: %w", obj.GetName(), err))
				}
				continue
			}
			owned = append(owned, obj)
		case Release:
			if err := c.Patch(ctx, obj, ReleasePatch(obj.GetUID(), owner.GetUID())); err != nil &&
				!apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
				errs = append(errs, fmt.Errorf("releasing %s: %w", obj.GetName(), err))
			}
		}
	}
	if len(errs) > 0 {
		return owned, fmt.Errorf("claiming: %v", errs)
	}
	return owned, nil
}

// RecheckOwner returns a canAdopt function for Claim that reads the owner
// through reader (an uncached client) and refuses when it is gone, replaced
// (other uid) or being deleted.
func RecheckOwner(reader client.Reader, fresh client.Object, owner metav1.Object) func(context.Context) error {
	return func(ctx context.Context) error {
		key := types.NamespacedName{Namespace: owner.GetNamespace(), Name: owner.GetName()}
		if err := reader.Get(ctx, key, fresh); err != nil {
			return err
		}
		if fresh.GetUID() != owner.GetUID() {
			return fmt.Errorf("original %s is gone: got uid %v, wanted %v", key, fresh.GetUID(), owner.GetUID())
		}
		if fresh.GetDeletionTimestamp() != nil {
			return fmt.Errorf("%s has just been deleted at %v", key, fresh.GetDeletionTimestamp())
		}
		return nil
	}
}
