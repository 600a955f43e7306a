package daemonset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kubeseed/kubeseed/controllers/consistency"
	"github.com/kubeseed/kubeseed/controllers/expectations"
	"github.com/kubeseed/kubeseed/controllers/ownership"
	"github.com/kubeseed/kubeseed/controllers/revision"
)

// Name is the controller's name in events.
const Name = "daemonset-controller"

var kind = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

// Reconciler runs one pod per eligible node for each DaemonSet.
type Reconciler struct {
	Client    client.Client
	APIReader client.Reader
	Recorder  record.EventRecorder
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	exp *expectations.Expectations
	// writes holds a sync back until the caches have seen the last one's
	// writes (upstream's StaleControllerConsistencyDaemonSet).
	writes *consistency.Tracker
}

// +kubebuilder:rbac:groups=apps,resources=daemonsets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=apps,resources=daemonsets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps,resources=daemonsets/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=controllerrevisions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch;update

// SetupWithManager registers the controller with mgr.
func SetupWithManager(mgr ctrl.Manager) error {
	r := &Reconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorderFor(Name), //nolint:staticcheck // core/v1 events, as upstream records them
	}
	return r.SetupWithManager(mgr)
}

// SetupWithManager registers r with mgr.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.exp = expectations.New()
	r.writes = consistency.ForCache(mgr.GetCache())
	if err := ownership.IndexControllerUID(mgr, &corev1.Pod{}); err != nil {
		return err
	}
	if err := ownership.IndexControllerUID(mgr, &appsv1.ControllerRevision{}); err != nil {
		return err
	}
	owner := ownership.Owner{APIVersion: kind.GroupVersion().String(), Kind: kind.Kind, Matching: r.matching,
		OnDelete: func(key types.NamespacedName, obj client.Object) {
			if p, ok := obj.(*corev1.Pod); ok {
				r.exp.ObserveGone(key, p)
			}
		}}
	return ctrl.NewControllerManagedBy(mgr).
		Named("daemonset").
		For(&appsv1.DaemonSet{}).
		Watches(&corev1.Pod{}, ownership.Handler(owner)).
		Watches(&appsv1.ControllerRevision{}, ownership.Handler(ownership.Owner{APIVersion: owner.APIVersion, Kind: owner.Kind})).
		Watches(&corev1.Node{}, r.nodeHandler()).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Complete(r)
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reconciler) matching(ctx context.Context, obj client.Object) []types.NamespacedName {
	var list appsv1.DaemonSetList
	if err := r.Client.List(ctx, &list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	var out []types.NamespacedName
	for i := range list.Items {
		if ownership.SelectorMatches(list.Items[i].Spec.Selector, obj.GetLabels()) {
			out = append(out, client.ObjectKeyFromObject(&list.Items[i]))
		}
	}
	return out
}

// nodeHandler wakes every DaemonSet when a node comes, goes, or changes its
// labels, taints or readiness-related spec.
func (r *Reconciler) nodeHandler() handler.EventHandler {
	type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]
	all := func(ctx context.Context, q queue) {
		var list appsv1.DaemonSetList
		if err := r.Client.List(ctx, &list); err != nil {
			return
		}
		for i := range list.Items {
			q.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, _ event.CreateEvent, q queue) { all(ctx, q) },
		DeleteFunc: func(ctx context.Context, _ event.DeleteEvent, q queue) { all(ctx, q) },
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q queue) {
			o, n := e.ObjectOld.(*corev1.Node), e.ObjectNew.(*corev1.Node)
			if !equality.Semantic.DeepEqual(o.Labels, n.Labels) || !equality.Semantic.DeepEqual(o.Spec.Taints, n.Spec.Taints) {
				all(ctx, q)
			}
		},
	}
}

// Reconcile syncs one DaemonSet.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.writes.Ready(req.NamespacedName); err != nil {
		ctrl.LoggerFrom(ctx).V(4).Info("Waiting for the cache", "reason", err.Error())
		return ctrl.Result{RequeueAfter: consistency.RetryAfter}, nil
	}
	var cached appsv1.DaemonSet
	if err := r.Client.Get(ctx, req.NamespacedName, &cached); err != nil {
		if apierrors.IsNotFound(err) {
			r.exp.Forget(req.NamespacedName)
			r.writes.Forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ds := cached.DeepCopy()
	err := r.sync(ctx, ds)
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return ctrl.Result{Requeue: true}, nil
	}
	return ctrl.Result{}, err
}

func (r *Reconciler) sync(ctx context.Context, ds *appsv1.DaemonSet) error {
	selector, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || selector.Empty() {
		return nil
	}
	key := client.ObjectKeyFromObject(ds)
	ref := ownership.NewControllerRef(ds, kind.GroupVersion().String(), kind.Kind)
	recheck := ownership.RecheckOwner(r.APIReader, &appsv1.DaemonSet{}, ds)

	var nodeList corev1.NodeList
	if err := r.Client.List(ctx, &nodeList); err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	nodes := make([]*corev1.Node, 0, len(nodeList.Items))
	for i := range nodeList.Items {
		nodes = append(nodes, &nodeList.Items[i])
	}
	var podList, orphans corev1.PodList
	if err := ownership.ListCandidates(ctx, r.Client, ds.Namespace, ds, selector, &podList, &orphans); err != nil {
		return fmt.Errorf("listing pods of %s: %w", ds.Name, err)
	}
	podList.Items = append(podList.Items, orphans.Items...)
	pods, err := ownership.Claim(ctx, r.Client, ds, ref, selector, ownership.Pointers(podList.Items), recheck)
	if err != nil {
		return err
	}
	cur, old, err := r.history(ctx, ds, ref, selector, recheck)
	if err != nil {
		return err
	}
	hash := cur.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	now := r.now()
	d := plan(ds, nodes, pods, hash, now)

	var stepErr error
	if ds.DeletionTimestamp == nil && r.exp.Satisfied(key, podList.Items, now) {
		stepErr = r.act(ctx, ds, ref, hash, d)
	}
	if !equality.Semantic.DeepEqual(d.status, ds.Status) {
		ds.Status = d.status
		if err := r.Client.Status().Update(ctx, ds); err != nil {
			return fmt.Errorf("updating status of %s: %w", ds.Name, err)
		}
		r.writes.Wrote(client.ObjectKeyFromObject(ds), ds.UID, ds)
	}
	if stepErr != nil {
		return stepErr
	}
	return r.cleanupHistory(ctx, ds, pods, old)
}

// act creates and deletes what plan decided, recording expectations.
func (r *Reconciler) act(ctx context.Context, ds *appsv1.DaemonSet, ref metav1.OwnerReference, hash string, d decision) error {
	key := client.ObjectKeyFromObject(ds)
	var mu sync.Mutex
	var created []string
	var deleted []types.UID
	var errs []error
	var wg sync.WaitGroup
	for _, p := range d.delete {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := r.Client.Delete(ctx, p, client.Preconditions{UID: &p.UID})
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !apierrors.IsNotFound(err) {
				r.Recorder.Eventf(ds, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
				errs = append(errs, err)
				return
			}
			deleted = append(deleted, p.UID)
			if err == nil {
				r.Recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", p.Name)
			}
		}()
	}
	wg.Wait()
	// Slow start, as for ReplicaSets: batches of 1, 2, 4, ... stop at the first failure.
	next := 0
	for size := 1; next < len(d.createOn) && len(errs) == 0; size *= 2 {
		batch := d.createOn[next:min(next+size, len(d.createOn))]
		next += len(batch)
		for _, node := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pod := newPod(ds, ref, node, hash)
				err := r.Client.Create(ctx, pod)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
						return
					}
					r.Recorder.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
					errs = append(errs, err)
					return
				}
				created = append(created, pod.Name)
				r.writes.Wrote(key, ds.UID, pod)
				r.Recorder.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", pod.Name)
			}()
		}
		wg.Wait()
	}
	r.exp.Expect(key, created, deleted, r.now())
	return errors.Join(errs...)
}

// history finds the revision matching the template (creating it, or moving
// a matching older one to the next number as after a rollback) and returns
// it with the others, as upstream's constructHistory does. The revision is
// named "<daemonset>-<template hash>" and labelled with that hash, which the
// pods carry as controller-revision-hash.
func (r *Reconciler) history(ctx context.Context, ds *appsv1.DaemonSet, ref metav1.OwnerReference, selector labels.Selector,
	recheck func(context.Context) error) (*appsv1.ControllerRevision, []*appsv1.ControllerRevision, error) {
	var list, orphans appsv1.ControllerRevisionList
	if err := ownership.ListCandidates(ctx, r.Client, ds.Namespace, ds, selector, &list, &orphans); err != nil {
		return nil, nil, fmt.Errorf("listing revisions of %s: %w", ds.Name, err)
	}
	list.Items = append(list.Items, orphans.Items...)
	revs, err := ownership.Claim(ctx, r.Client, ds, ref, selector, ownership.Pointers(list.Items), recheck)
	if err != nil {
		return nil, nil, err
	}
	patch, err := revision.TemplatePatch(ds)
	if err != nil {
		return nil, nil, err
	}
	var current, old []*appsv1.ControllerRevision
	for _, rv := range revs {
		if bytes.Equal(rv.Data.Raw, patch) {
			current = append(current, rv)
		} else {
			old = append(old, rv)
		}
	}
	revision.Sort(old)
	next := revision.Next(old)
	if len(current) == 0 {
		hash := revision.TemplateHash(&ds.Spec.Template, ds.Status.CollisionCount)
		lbls := map[string]string{}
		for k, v := range ds.Spec.Template.Labels {
			lbls[k] = v
		}
		lbls[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
		cr := &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{
				Name: ds.Name + "-" + hash, Namespace: ds.Namespace, Labels: lbls, Annotations: ds.Annotations,
				OwnerReferences: []metav1.OwnerReference{ref},
			},
			Data:     runtime.RawExtension{Raw: patch},
			Revision: next,
		}
		err := r.Client.Create(ctx, cr)
		if apierrors.IsAlreadyExists(err) {
			var existing appsv1.ControllerRevision
			if gerr := r.APIReader.Get(ctx, client.ObjectKeyFromObject(cr), &existing); gerr != nil {
				return nil, nil, gerr
			}
			if metav1.IsControlledBy(&existing, ds) && bytes.Equal(existing.Data.Raw, patch) {
				return &existing, old, nil
			}
			// Another revision holds the name: hash again with the next collision count.
			n := int32(0)
			if ds.Status.CollisionCount != nil {
				n = *ds.Status.CollisionCount
			}
			n++
			ds.Status.CollisionCount = &n
			if uerr := r.Client.Status().Update(ctx, ds); uerr != nil {
				return nil, nil, uerr
			}
			return nil, nil, fmt.Errorf("revision name %s of %s collides", cr.Name, ds.Name)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("creating revision of %s: %w", ds.Name, err)
		}
		r.writes.Wrote(client.ObjectKeyFromObject(ds), ds.UID, cr)
		return cr, old, nil
	}
	revision.Sort(current)
	cur := current[len(current)-1]
	for _, dup := range current[:len(current)-1] {
		// Duplicates of the current template: keep the newest.
		if err := r.Client.Delete(ctx, dup); err != nil && !apierrors.IsNotFound(err) {
			return nil, nil, err
		}
	}
	if cur.Revision < next {
		cur = cur.DeepCopy()
		cur.Revision = next
		if err := r.Client.Update(ctx, cur); err != nil {
			return nil, nil, fmt.Errorf("moving revision %s forward: %w", cur.Name, err)
		}
		r.writes.Wrote(client.ObjectKeyFromObject(ds), ds.UID, cur)
	}
	return cur, old, nil
}

// cleanupHistory deletes old revisions beyond revisionHistoryLimit that no
// pod runs.
func (r *Reconciler) cleanupHistory(ctx context.Context, ds *appsv1.DaemonSet, pods []*corev1.Pod, old []*appsv1.ControllerRevision) error {
	live := map[string]bool{}
	for _, p := range pods {
		if h := p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]; h != "" {
			live[ds.Name+"-"+h] = true
		}
	}
	limit := 10
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = int(*ds.Spec.RevisionHistoryLimit)
	}
	for _, rv := range revision.ToDelete(old, live, limit) {
		if err := r.Client.Delete(ctx, rv, client.Preconditions{UID: &rv.UID}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting revision %s: %w", rv.Name, err)
		}
	}
	return nil
}
