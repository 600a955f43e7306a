package registry

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
)

// prepareNamespaceCreate gives every namespace the kubernetes finalizer: the
// namespace controller removes it once the namespace's content is gone.
func prepareNamespaceCreate(_ context.Context, obj runtime.Object) {
	ns := obj.(*corev1.Namespace)
	ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
	ns.Status.Phase = corev1.NamespaceActive
}

// prepareNamespaceUpdate keeps spec.finalizers: only /finalize changes them.
func prepareNamespaceUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*corev1.Namespace).Spec.Finalizers = old.(*corev1.Namespace).Spec.Finalizers
}

// namespaceDeletedDuringUpdate keeps a terminating namespace while its spec
// finalizers remain. The generic rule looks only at metadata.finalizers,
// which namespaces rarely have: it would remove a terminating namespace on
// the namespace controller's first status update, stranding its content.
func namespaceDeletedDuringUpdate(ctx context.Context, key string, obj, existing runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	if !ok || len(ns.Spec.Finalizers) > 0 {
		return false
	}
	return genericregistry.ShouldDeleteDuringUpdate(ctx, key, obj, existing)
}

// namespaceStorage turns a delete of a namespace with spec finalizers into
// phase Terminating, as upstream does; the namespace goes once finalized.
type namespaceStorage struct {
	*mainStorage
}

func (n *namespaceStorage) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	if immortalNamespaces[name] {
		return nil, false, apierrors.NewForbidden(corev1.Resource("namespaces"), name, fmt.Errorf("this namespace may not be deleted"))
	}
	obj, err := n.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, false, err
	}
	ns := obj.(*corev1.Namespace)
	if options == nil {
		options = &metav1.DeleteOptions{}
	}
	if options.Preconditions != nil {
		if options.Preconditions.UID != nil && *options.Preconditions.UID != ns.UID {
			return nil, false, apierrors.NewConflict(corev1.Resource("namespaces"), name,
				fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", *options.Preconditions.UID, ns.UID))
		}
	}
	if len(ns.Spec.Finalizers) == 0 {
		return n.Store.Delete(ctx, name, deleteValidation, options)
	}
	if ns.DeletionTimestamp != nil {
		return ns, false, nil
	}
	if deleteValidation != nil {
		if err := deleteValidation(ctx, ns); err != nil {
			return nil, false, err
		}
	}
	key, err := n.Store.KeyFunc(ctx, name)
	if err != nil {
		return nil, false, err
	}
	out := &corev1.Namespace{}
	dryRun := len(options.DryRun) > 0
	err = n.Store.Storage.GuaranteedUpdate(ctx, key, out, false, nil, storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
		cur := obj.(*corev1.Namespace)
		if cur.DeletionTimestamp == nil {
			now := metav1.Now()
			cur.DeletionTimestamp = &now
			cur.DeletionGracePeriodSeconds = new(int64)
		}
		cur.Status.Phase = corev1.NamespaceTerminating
		return cur, nil
	}), dryRun, nil)
	if err != nil {
		return nil, false, err
	}
	return out, false, nil
}

// FinalizeREST serves namespaces/finalize: an update that changes only
// spec.finalizers. A terminating namespace whose last finalizer goes is deleted.
type FinalizeREST struct {
	ns *namespaceStorage
}

func (r *FinalizeREST) New() runtime.Object { return &corev1.Namespace{} }
func (r *FinalizeREST) Destroy()            {}

func (r *FinalizeREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	key, err := r.ns.Store.KeyFunc(ctx, name)
	if err != nil {
		return nil, false, err
	}
	out := &corev1.Namespace{}
	dryRun := options != nil && len(options.DryRun) > 0
	err = r.ns.Store.Storage.GuaranteedUpdate(ctx, key, out, false, nil, storage.SimpleUpdate(func(obj runtime.Object) (runtime.Object, error) {
		cur := obj.(*corev1.Namespace)
		upd, err := objInfo.UpdatedObject(ctx, cur.DeepCopy())
		if err != nil {
			return nil, err
		}
		want, ok := upd.(*corev1.Namespace)
		if !ok {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("not a Namespace: %T", upd))
		}
		if updateValidation != nil {
			if err := updateValidation(ctx, want, cur); err != nil {
				return nil, err
			}
		}
		cur.Spec.Finalizers = want.Spec.Finalizers
		return cur, nil
	}), dryRun, nil)
	if err != nil {
		if storage.IsNotFound(err) {
			return nil, false, apierrors.NewNotFound(corev1.Resource("namespaces"), name)
		}
		return nil, false, err
	}
	if out.DeletionTimestamp != nil && len(out.Spec.Finalizers) == 0 && !dryRun {
		if _, _, err := r.ns.Store.Delete(ctx, name, rest.ValidateAllObjectFunc, &metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return nil, false, err
		}
	}
	return out, false, nil
}
