package serviceaccount

import (
	"context"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update

// Options configures the controller.
type Options struct {
	// RootCA is the PEM bundle published as kube-root-ca.crt; empty publishes
	// nothing.
	RootCA []byte
}

// Reconciler keeps one namespace's default ServiceAccount and root CA.
type Reconciler struct {
	client client.Client
	rootCA []byte
}

// SetupWithManager adds the controller to mgr, publishing the CA the manager
// itself trusts for the API server, which is the cluster's serving CA.
func SetupWithManager(mgr ctrl.Manager) error {
	cfg := mgr.GetConfig()
	ca := cfg.CAData
	if len(ca) == 0 && cfg.CAFile != "" {
		data, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return fmt.Errorf("reading the API server CA: %w", err)
		}
		ca = data
	}
	return Setup(mgr, Options{RootCA: ca})
}

// Setup adds the controller to mgr with explicit options.
func Setup(mgr ctrl.Manager, opts Options) error {
	r := &Reconciler{client: mgr.GetClient(), rootCA: opts.RootCA}
	named := func(name string) builder.Predicates {
		return builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetName() == name }))
	}
	toNamespace := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: o.GetNamespace()}}}
	})
	b := ctrl.NewControllerManagedBy(mgr).
		Named("serviceaccount").
		For(&corev1.Namespace{}).
		Watches(&corev1.ServiceAccount{}, toNamespace, named(DefaultServiceAccount)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 5})
	if len(opts.RootCA) > 0 {
		b = b.Watches(&corev1.ConfigMap{}, toNamespace, named(RootCAConfigMap))
	}
	return b.Complete(r)
}

// Reconcile creates what the namespace lacks; a terminating namespace gets
// nothing new.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var ns corev1.Namespace
	if err := r.client.Get(ctx, req.NamespacedName, &ns); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if ns.DeletionTimestamp != nil || ns.Status.Phase == corev1.NamespaceTerminating {
		return reconcile.Result{}, nil
	}
	var sa corev1.ServiceAccount
	err := r.client.Get(ctx, types.NamespacedName{Namespace: ns.Name, Name: DefaultServiceAccount}, &sa)
	if apierrors.IsNotFound(err) {
		sa = corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: DefaultServiceAccount}}
		err = r.client.Create(ctx, &sa)
		if apierrors.IsAlreadyExists(err) || terminating(err) {
			err = nil
		}
	}
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("ensuring the default service account in %s: %w", ns.Name, err)
	}
	if len(r.rootCA) == 0 {
		return reconcile.Result{}, nil
	}
	var cm corev1.ConfigMap
	err = r.client.Get(ctx, types.NamespacedName{Namespace: ns.Name, Name: RootCAConfigMap}, &cm)
	switch {
	case apierrors.IsNotFound(err):
		err = r.client.Create(ctx, RootCAConfigMapFor(ns.Name, r.rootCA))
		if apierrors.IsAlreadyExists(err) || terminating(err) {
			err = nil
		}
	case err == nil && FixRootCA(&cm, r.rootCA):
		err = r.client.Update(ctx, &cm)
	}
	if err != nil {
		return reconcile.Result{}, fmt.Errorf("publishing %s in %s: %w", RootCAConfigMap, ns.Name, err)
	}
	return reconcile.Result{}, nil
}

// terminating says whether the API refused a create because the namespace is
// being deleted: nothing to retry.
func terminating(err error) bool {
	return apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) || apierrors.IsNotFound(err)
}
