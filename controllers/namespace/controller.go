package namespace

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// minRecheck is how soon a namespace whose content is still going is looked
// at again when no pod grace period gives a better estimate.
const minRecheck = time.Second

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces/status,verbs=update
// +kubebuilder:rbac:groups="",resources=namespaces/finalize,verbs=update
// +kubebuilder:rbac:groups=*,resources=*,verbs=get;list;delete;deletecollection

// Reconciler empties and finalizes terminating namespaces.
type Reconciler struct {
	client    client.Client
	discovery discovery.DiscoveryInterface
	metadata  metadata.Interface
}

// SetupWithManager adds the namespace controller to mgr.
func SetupWithManager(mgr ctrl.Manager) error {
	dc, err := discovery.NewDiscoveryClientForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return fmt.Errorf("building a discovery client: %w", err)
	}
	mc, err := metadata.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return fmt.Errorf("building a metadata client: %w", err)
	}
	r := &Reconciler{client: mgr.GetClient(), discovery: dc, metadata: mc}
	return ctrl.NewControllerManagedBy(mgr).
		Named("namespace").
		// Only namespaces being deleted concern this controller.
		For(&corev1.Namespace{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetDeletionTimestamp() != nil
		}))).
		WithOptions(controller.Options{MaxConcurrentReconciles: 10}).
		Complete(r)
}

// Reconcile runs one deletion pass over a terminating namespace.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	logger := log.FromContext(ctx)
	var ns corev1.Namespace
	if err := r.client.Get(ctx, req.NamespacedName, &ns); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if ns.DeletionTimestamp == nil || !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		return reconcile.Result{}, nil
	}
	outcome := r.deleteContent(ctx, ns.Name)
	if MergeConditions(&ns.Status, Conditions(outcome), metav1.Now()) {
		if ns.Status.Phase != corev1.NamespaceTerminating {
			ns.Status.Phase = corev1.NamespaceTerminating
		}
		if err := r.client.Status().Update(ctx, &ns); err != nil {
			if apierrors.IsNotFound(err) {
				return reconcile.Result{}, nil
			}
			// A conflict means newer data: the watch brings us back.
			return reconcile.Result{}, fmt.Errorf("updating conditions of namespace %s: %w", ns.Name, err)
		}
	}
	if !outcome.Done() {
		wait := max(time.Duration(outcome.Estimate)*time.Second, minRecheck)
		logger.V(1).Info("content remains", "namespace", ns.Name, "recheck", wait)
		return reconcile.Result{RequeueAfter: wait}, nil
	}
	ns.Spec.Finalizers = slices.DeleteFunc(ns.Spec.Finalizers, func(f corev1.FinalizerName) bool { return f == corev1.FinalizerKubernetes })
	if err := r.client.SubResource("finalize").Update(ctx, &ns); err != nil && !apierrors.IsNotFound(err) {
		return reconcile.Result{}, fmt.Errorf("finalizing namespace %s: %w", ns.Name, err)
	}
	logger.V(1).Info("namespace finalized", "namespace", ns.Name)
	return reconcile.Result{}, nil
}

// resource is one deletable namespaced resource type.
type resource struct {
	gvr              schema.GroupVersionResource
	deleteCollection bool
}

// DeletableResources picks from discovery the namespaced resources (not
// subresources) that can be listed and deleted: everything that can hold a
// namespace open.
func DeletableResources(lists []*metav1.APIResourceList) []resource {
	var out []resource
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue
		}
		for _, res := range list.APIResources {
			if !res.Namespaced || strings.Contains(res.Name, "/") ||
				!slices.Contains(res.Verbs, "list") || !slices.Contains(res.Verbs, "delete") {
				continue
			}
			out = append(out, resource{
				gvr:              gv.WithResource(res.Name),
				deleteCollection: slices.Contains(res.Verbs, "deletecollection"),
			})
		}
	}
	return out
}

// deleteContent deletes everything in namespace and counts what is left.
func (r *Reconciler) deleteContent(ctx context.Context, namespace string) Outcome {
	o := Outcome{Remaining: map[schema.GroupVersionResource]int{}, Finalizers: map[string]int{}}
	lists, err := r.discovery.ServerPreferredNamespacedResources()
	if err != nil {
		// Partial results still let us delete what we can see.
		o.DiscoveryErr = err
	}
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}
	for _, res := range DeletableResources(lists) {
		client := r.metadata.Resource(res.gvr).Namespace(namespace)
		if res.deleteCollection {
			err := client.DeleteCollection(ctx, opts, metav1.ListOptions{})
			if err == nil {
				continue
			}
			if !apierrors.IsMethodNotSupported(err) && !apierrors.IsNotFound(err) {
				o.DeleteErrs = append(o.DeleteErrs, fmt.Errorf("failed to delete %s: %w", res.gvr, err))
				continue
			}
		}
		items, err := client.List(ctx, metav1.ListOptions{})
		if err != nil {
			if !apierrors.IsMethodNotSupported(err) && !apierrors.IsNotFound(err) {
				o.DeleteErrs = append(o.DeleteErrs, fmt.Errorf("failed to list %s: %w", res.gvr, err))
			}
			continue
		}
		for _, item := range items.Items {
			if item.DeletionTimestamp != nil {
				continue
			}
			if err := client.Delete(ctx, item.Name, opts); err != nil && !apierrors.IsNotFound(err) {
				o.DeleteErrs = append(o.DeleteErrs, fmt.Errorf("failed to delete %s %s: %w", res.gvr, item.Name, err))
			}
		}
	}
	// Count what did not go at once: objects with finalizers or grace periods.
	for _, res := range DeletableResources(lists) {
		items, err := r.metadata.Resource(res.gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			// Unknown is not empty: finalizing now could strand objects.
			if !apierrors.IsMethodNotSupported(err) && !apierrors.IsNotFound(err) {
				o.DeleteErrs = append(o.DeleteErrs, fmt.Errorf("failed to list %s: %w", res.gvr, err))
			}
			continue
		}
		if len(items.Items) == 0 {
			continue
		}
		o.Remaining[res.gvr] = len(items.Items)
		for _, item := range items.Items {
			for _, f := range item.Finalizers {
				o.Finalizers[f]++
			}
			if res.gvr.Group == "" && res.gvr.Resource == "pods" && item.DeletionGracePeriodSeconds != nil {
				o.Estimate = max(o.Estimate, *item.DeletionGracePeriodSeconds)
			}
		}
	}
	return o
}
