package ownership

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Owner names the kind of controller a Handler enqueues.
type Owner struct {
	APIVersion string
	Kind       string
	// Matching returns the controllers in the object's namespace whose
	// selector matches it, for adopting orphans.
	Matching func(ctx context.Context, obj client.Object) []types.NamespacedName
	// OnDelete, if set, is told of every deleted dependent and its controller.
	OnDelete func(owner types.NamespacedName, obj client.Object)
}

// Handler maps dependent events to controllers as upstream's controllers do:
// the controlling owner; the previous owner too when the controller reference
// or labels changed (it may need to replace or release); and for an orphan
// every matching controller, so one adopts it.
func Handler(o Owner) handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]
	enqueue := func(ctx context.Context, obj client.Object, q queue) {
		if ref := metav1.GetControllerOfNoCopy(obj); ref != nil {
			if ref.Kind == o.Kind && ref.APIVersion == o.APIVersion {
				q.Add(reconcile.Request{NamespacedName: types.NamespacedName{Namespace: obj.GetNamespace(), Name: ref.Name}})
			}
			return
		}
		if obj.GetDeletionTimestamp() != nil || o.Matching == nil {
			return
		}
		for _, key := range o.Matching(ctx, obj) {
			q.Add(reconcile.Request{NamespacedName: key})
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q queue) { enqueue(ctx, e.Object, q) },
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q queue) {
			enqueue(ctx, e.ObjectNew, q)
			if !equality.Semantic.DeepEqual(metav1.GetControllerOfNoCopy(e.ObjectOld), metav1.GetControllerOfNoCopy(e.ObjectNew)) ||
				!labels.Equals(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) {
				enqueue(ctx, e.ObjectOld, q)
			}
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q queue) {
			if ref := metav1.GetControllerOfNoCopy(e.Object); ref != nil && o.OnDelete != nil &&
				ref.Kind == o.Kind && ref.APIVersion == o.APIVersion {
				o.OnDelete(types.NamespacedName{Namespace: e.Object.GetNamespace(), Name: ref.Name}, e.Object)
			}
			enqueue(ctx, e.Object, q)
		},
	}
}

// SelectorMatches reports whether a label selector (nil or empty selects
// nothing, as controllers treat it) matches the labels.
func SelectorMatches(sel *metav1.LabelSelector, lbls map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() {
		return false
	}
	return s.Matches(labels.Set(lbls))
}
