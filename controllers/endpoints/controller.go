package endpoints

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/endpointslice"
	endpointsliceutil "k8s.io/endpointslice/util"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// ControllerName is the managed-by label value on the EndpointSlices this
// controller owns, upstream's, so kube-proxy and other tools treat them alike.
const ControllerName = "endpointslice-controller.k8s.io"

// MaxEndpointsPerSlice is upstream's default --max-endpoints-per-slice.
const MaxEndpointsPerSlice = 100

// +kubebuilder:rbac:groups="",resources=services;pods;nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=endpoints,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch;create;update;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconciler syncs one Service's EndpointSlices and Endpoints.
type Reconciler struct {
	client  client.Client
	slices  *endpointslice.Reconciler
	tracker *endpointsliceutil.EndpointSliceTracker
}

// SetupWithManager adds the endpoints controller to mgr.
func SetupWithManager(mgr ctrl.Manager) error {
	cs, err := kubernetes.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return fmt.Errorf("building a clientset: %w", err)
	}
	tracker := endpointsliceutil.NewEndpointSliceTracker()
	r := &Reconciler{
		client:  mgr.GetClient(),
		tracker: tracker,
		slices: endpointslice.NewReconciler(cs, nodeLister{mgr.GetClient()}, MaxEndpointsPerSlice, tracker, nil,
			mgr.GetEventRecorderFor("endpointslice-controller"), ControllerName),
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("endpoints").
		For(&corev1.Service{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.servicesForPod), builder.WithPredicates(predicate.Funcs{
			UpdateFunc: func(e event.UpdateEvent) bool { return endpointsChanged(e.ObjectOld, e.ObjectNew) },
		})).
		Watches(&discoveryv1.EndpointSlice{}, handler.Funcs{
			CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				enqueueSliceService(e.Object, q)
			},
			UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				if s, ok := e.ObjectNew.(*discoveryv1.EndpointSlice); ok && r.tracker.ShouldSync(s) {
					enqueueSliceService(s, q)
				}
			},
			DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				if s, ok := e.Object.(*discoveryv1.EndpointSlice); ok && r.tracker.HandleDeletion(s) {
					enqueueSliceService(s, q)
				}
			},
		}).
		Watches(&corev1.Endpoints{}, &handler.EnqueueRequestForObject{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: 5}).
		Complete(r)
}

// enqueueSliceService queues the Service a slice of ours belongs to.
func enqueueSliceService(obj client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if obj.GetLabels()[discoveryv1.LabelManagedBy] != ControllerName {
		return
	}
	if svc := obj.GetLabels()[discoveryv1.LabelServiceName]; svc != "" {
		q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: svc}})
	}
}

// endpointsChanged reports whether a pod update can change an endpoint, as
// upstream's podEndpointsChanged: most pod updates are container statuses
// that no endpoint shows, and each would resync every Service selecting the
// pod. A pod's containers and their ports are immutable.
func endpointsChanged(oldObj, newObj client.Object) bool {
	o, ok1 := oldObj.(*corev1.Pod)
	n, ok2 := newObj.(*corev1.Pod)
	if !ok1 || !ok2 {
		return true
	}
	return !equality.Semantic.DeepEqual(o.Labels, n.Labels) ||
		!equality.Semantic.DeepEqual(o.DeletionTimestamp, n.DeletionTimestamp) ||
		!equality.Semantic.DeepEqual(o.Status.PodIPs, n.Status.PodIPs) || o.Status.PodIP != n.Status.PodIP ||
		o.Status.Phase != n.Status.Phase || podReady(o) != podReady(n) ||
		o.Spec.NodeName != n.Spec.NodeName || o.Spec.Hostname != n.Spec.Hostname || o.Spec.Subdomain != n.Spec.Subdomain
}

func podReady(p *corev1.Pod) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

// servicesForPod maps a pod to the Services whose selectors match it. It
// only reads the cached Services, so it lists them without copies.
func (r *Reconciler) servicesForPod(ctx context.Context, obj client.Object) []reconcile.Request {
	var list corev1.ServiceList
	if err := r.client.List(ctx, &list, client.InNamespace(obj.GetNamespace()), client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, svc := range list.Items {
		if svc.Spec.Selector == nil {
			continue
		}
		if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(obj.GetLabels())) {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}})
		}
	}
	return out
}

// Reconcile brings one Service's EndpointSlices and Endpoints up to date.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	logger := log.FromContext(ctx)
	var svc corev1.Service
	if err := r.client.Get(ctx, req.NamespacedName, &svc); err != nil {
		if !apierrors.IsNotFound(err) {
			return reconcile.Result{}, err
		}
		// Slices go with their owner reference; Endpoints carry none.
		r.tracker.DeleteService(req.Namespace, req.Name)
		r.slices.DeleteService(req.Namespace, req.Name)
		ep := &corev1.Endpoints{}
		ep.Namespace, ep.Name = req.Namespace, req.Name
		if err := r.client.Delete(ctx, ep); err != nil && !apierrors.IsNotFound(err) {
			return reconcile.Result{}, fmt.Errorf("deleting endpoints of deleted service %s: %w", req, err)
		}
		return reconcile.Result{}, nil
	}
	if svc.Spec.Selector == nil || svc.Spec.Type == corev1.ServiceTypeExternalName || svc.DeletionTimestamp != nil {
		return reconcile.Result{}, nil
	}

	var podList corev1.PodList
	if err := r.client.List(ctx, &podList, client.InNamespace(svc.Namespace), client.MatchingLabels(svc.Spec.Selector)); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing pods of service %s: %w", req, err)
	}
	pods := make([]*corev1.Pod, len(podList.Items))
	for i := range podList.Items {
		pods[i] = &podList.Items[i]
	}
	var sliceList discoveryv1.EndpointSliceList
	if err := r.client.List(ctx, &sliceList, client.InNamespace(svc.Namespace), client.MatchingLabels{
		discoveryv1.LabelServiceName: svc.Name,
		discoveryv1.LabelManagedBy:   ControllerName,
	}); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing endpointslices of service %s: %w", req, err)
	}
	slices := make([]*discoveryv1.EndpointSlice, 0, len(sliceList.Items))
	for i := range sliceList.Items {
		if sliceList.Items[i].DeletionTimestamp == nil {
			slices = append(slices, &sliceList.Items[i])
		}
	}
	if r.tracker.StaleSlices(&svc, slices) {
		// Our own recent writes are not in the cache yet: acting now would
		// duplicate slices. The watch event of the write requeues us.
		return reconcile.Result{RequeueAfter: time.Second}, nil
	}
	sliceErr := r.slices.Reconcile(logger, &svc, pods, slices, time.Now())
	if err := r.syncEndpoints(ctx, &svc, pods); err != nil {
		return reconcile.Result{}, err
	}
	if sliceErr != nil {
		return reconcile.Result{}, fmt.Errorf("syncing endpointslices of service %s: %w", req, sliceErr)
	}
	return reconcile.Result{}, nil
}

// syncEndpoints writes the legacy Endpoints object when it differs.
func (r *Reconciler) syncEndpoints(ctx context.Context, svc *corev1.Service, pods []*corev1.Pod) error {
	want := Desired(svc, pods)
	var cur corev1.Endpoints
	err := r.client.Get(ctx, client.ObjectKeyFromObject(want), &cur)
	switch {
	case apierrors.IsNotFound(err):
		if err := r.client.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating endpoints %s/%s: %w", want.Namespace, want.Name, err)
		}
		return nil
	case err != nil:
		return err
	}
	if !needsUpdate(&cur, want) {
		return nil
	}
	cur.Subsets = want.Subsets
	cur.Labels = want.Labels
	if v, ok := want.Annotations[AnnotationOverCapacity]; ok {
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		cur.Annotations[AnnotationOverCapacity] = v
	} else {
		delete(cur.Annotations, AnnotationOverCapacity)
	}
	if err := r.client.Update(ctx, &cur); err != nil {
		return fmt.Errorf("updating endpoints %s/%s: %w", cur.Namespace, cur.Name, err)
	}
	return nil
}

// nodeLister serves upstream's slice reconciler (which reads node zones)
// from the manager's cache.
type nodeLister struct{ c client.Reader }

func (l nodeLister) List(selector labels.Selector) ([]*corev1.Node, error) {
	var list corev1.NodeList
	if err := l.c.List(context.Background(), &list, client.MatchingLabelsSelector{Selector: selector}); err != nil {
		return nil, err
	}
	out := make([]*corev1.Node, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

func (l nodeLister) Get(name string) (*corev1.Node, error) {
	var n corev1.Node
	if err := l.c.Get(context.Background(), types.NamespacedName{Name: name}, &n); err != nil {
		return nil, err
	}
	return &n, nil
}

var _ corelisters.NodeLister = nodeLister{}
