package registry

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
)

// immortalNamespaces may not be deleted, as upstream's NamespaceLifecycle
// admission plugin enforces.
var immortalNamespaces = map[string]bool{
	metav1.NamespaceDefault: true, metav1.NamespaceSystem: true, metav1.NamespacePublic: true,
}

// requireNamespace makes creates in a missing namespace fail with 404 and in
// a terminating one with 403, as upstream's NamespaceLifecycle plugin does.
func requireNamespace(store *genericregistry.Store, namespaces *genericregistry.Store) {
	next := store.BeginCreate
	store.BeginCreate = func(ctx context.Context, obj runtime.Object, options *metav1.CreateOptions) (genericregistry.FinishFunc, error) {
		ns, _ := genericapirequest.NamespaceFrom(ctx)
		if ns != "" {
			if err := namespaceAccepts(ctx, namespaces, ns); err != nil {
				return nil, err
			}
		}
		if next != nil {
			return next(ctx, obj, options)
		}
		return func(context.Context, bool) {}, nil
	}
}

func namespaceAccepts(ctx context.Context, namespaces *genericregistry.Store, name string) error {
	nsCtx := genericapirequest.WithNamespace(ctx, "")
	// A consistent read, not the watch cache: a namespace created or deleted a
	// moment ago must be seen as it is now.
	obj, err := namespaces.Get(nsCtx, name, &metav1.GetOptions{})
	if err != nil {
		return err
	}
	if ns := obj.(*corev1.Namespace); ns.Status.Phase == corev1.NamespaceTerminating {
		e := apierrors.NewForbidden(corev1.Resource("namespaces"), name,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", name))
		e.ErrStatus.Details.Causes = append(e.ErrStatus.Details.Causes, metav1.StatusCause{
			Type: corev1.NamespaceTerminatingCause, Message: fmt.Sprintf("namespace %s is being terminated", name), Field: "metadata.namespace"})
		return e
	}
	return nil
}
