package replicaset

import (
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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	"github.com/kubeseed/kubeseed/controllers/consistency"
	"github.com/kubeseed/kubeseed/controllers/expectations"
	"github.com/kubeseed/kubeseed/controllers/ownership"
)

// Name is the controller's name in the manager and the events' source.
const Name = "replicaset-controller"

// Reasons of the events and the ReplicaFailure condition, upstream's words.
const (
	reasonSuccessfulCreate = "SuccessfulCreate"
	reasonFailedCreate     = "FailedCreate"
	reasonSuccessfulDelete = "SuccessfulDelete"
	reasonFailedDelete     = "FailedDelete"
)

// Reconciler keeps each ReplicaSet's pod count at spec.replicas.
type Reconciler struct {
	Client    client.Client
	APIReader client.Reader
	Recorder  record.EventRecorder
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	exp *expectations.Expectations
	// writes holds a sync back until the caches have seen the last one's
	// writes (upstream's StaleControllerConsistencyReplicaSet).
	writes *consistency.Tracker
}

// +kubebuilder:rbac:groups=apps,resources=replicasets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=apps,resources=replicasets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps,resources=replicasets/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch;update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch;update

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
	return ctrl.NewControllerManagedBy(mgr).
		Named("replicaset").
		For(&appsv1.ReplicaSet{}).
		Watches(&corev1.Pod{}, r.podHandler()).
		WithOptions(controller.Options{MaxConcurrentReconciles: 5}).
		Complete(r)
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// podHandler maps pod events to the ReplicaSets that care (see
// ownership.Handler) and tells the expectations of pods that left.
func (r *Reconciler) podHandler() handler.EventHandler {
	return ownership.Handler(ownership.Owner{
		APIVersion: appsv1.SchemeGroupVersion.String(),
		Kind:       "ReplicaSet",
		Matching: func(ctx context.Context, obj client.Object) []types.NamespacedName {
			var sets appsv1.ReplicaSetList
			if err := r.Client.List(ctx, &sets, client.InNamespace(obj.GetNamespace())); err != nil {
				return nil
			}
			var out []types.NamespacedName
			for i := range sets.Items {
				if ownership.SelectorMatches(sets.Items[i].Spec.Selector, obj.GetLabels()) {
					out = append(out, client.ObjectKeyFromObject(&sets.Items[i]))
				}
			}
			return out
		},
		OnDelete: func(owner types.NamespacedName, obj client.Object) {
			if pod, ok := obj.(*corev1.Pod); ok {
				r.exp.ObserveGone(owner, pod)
			}
		},
	})
}

// Reconcile syncs one ReplicaSet.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	if err := r.writes.Ready(req.NamespacedName); err != nil {
		log.V(4).Info("Waiting for the cache", "reason", err.Error())
		return ctrl.Result{RequeueAfter: consistency.RetryAfter}, nil
	}
	var rs appsv1.ReplicaSet
	if err := r.Client.Get(ctx, req.NamespacedName, &rs); err != nil {
		if apierrors.IsNotFound(err) {
			r.exp.Forget(req.NamespacedName)
			r.writes.Forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, fmt.Errorf("getting replicaset %s: %w", req, err)
	}
	selector, err := metav1.LabelSelectorAsSelector(rs.Spec.Selector)
	if err != nil {
		// The API server validates selectors; an invalid one cannot be acted on.
		log.Error(err, "invalid selector", "replicaset", klog.KObj(&rs))
		return ctrl.Result{}, nil
	}
	var all, orphans corev1.PodList
	if err := ownership.ListCandidates(ctx, r.Client, rs.Namespace, &rs, selector, &all, &orphans); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing pods of %s: %w", req, err)
	}
	all.Items = append(all.Items, orphans.Items...)
	now := r.now()
	satisfied := r.exp.Satisfied(req.NamespacedName, all.Items, now)

	var candidates []*corev1.Pod
	for i := range all.Items {
		if isActive(&all.Items[i]) {
			candidates = append(candidates, &all.Items[i])
		}
	}
	ref := ownership.NewControllerRef(&rs, appsv1.SchemeGroupVersion.String(), "ReplicaSet")
	pods, claimErr := ownership.Claim(ctx, r.Client, &rs, ref, selector, candidates,
		ownership.RecheckOwner(r.APIReader, &appsv1.ReplicaSet{}, &rs))

	var manageErr error
	var failReason string
	if satisfied && rs.DeletionTimestamp == nil && claimErr == nil {
		failReason, manageErr = r.manageReplicas(ctx, &rs, pods, ref, now)
	}

	status, wait := calculateStatus(&rs, pods, failReason, manageErr, now)
	if !equality.Semantic.DeepEqual(status, rs.Status) {
		updated := rs.DeepCopy()
		updated.Status = status
		if err := r.Client.Status().Update(ctx, updated); err != nil {
			if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
				return ctrl.Result{Requeue: true}, nil
			}
			return ctrl.Result{}, fmt.Errorf("updating status of %s: %w", req, err)
		}
		r.writes.Wrote(req.NamespacedName, rs.UID, updated)
	}
	if err := errors.Join(claimErr, manageErr); err != nil {
		return ctrl.Result{}, err
	}
	if wait > 0 {
		return ctrl.Result{RequeueAfter: wait + 100*time.Millisecond}, nil
	}
	return ctrl.Result{}, nil
}

// manageReplicas creates or deletes pods so len(pods) approaches
// spec.replicas, and records what it did in the expectations. It returns the
// ReplicaFailure reason with any error.
func (r *Reconciler) manageReplicas(ctx context.Context, rs *appsv1.ReplicaSet, pods []*corev1.Pod, ref metav1.OwnerReference, now time.Time) (string, error) {
	key := client.ObjectKeyFromObject(rs)
	want := int32(1)
	if rs.Spec.Replicas != nil {
		want = *rs.Spec.Replicas
	}
	diff := len(pods) - int(want)
	switch {
	case diff < 0:
		n := min(-diff, burstReplicas)
		var created []string
		var firstErr error
		for _, size := range slowStartBatches(n) {
			names, err := r.createBatch(ctx, rs, ref, size)
			created = append(created, names...)
			if err != nil {
				firstErr = err
				break // later batches would fail the same way
			}
		}
		r.exp.Expect(key, created, nil, now)
		if firstErr != nil {
			return reasonFailedCreate, firstErr
		}
	case diff > 0:
		victims := podsToDelete(pods, min(diff, burstReplicas))
		var mu sync.Mutex
		var deleted []types.UID
		var errs []error
		var wg sync.WaitGroup
		for _, p := range victims {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := r.Client.Delete(ctx, p, client.Preconditions{UID: &p.UID})
				mu.Lock()
				defer mu.Unlock()
				if err != nil && !apierrors.IsNotFound(err) {
					r.Recorder.Eventf(rs, corev1.EventTypeWarning, reasonFailedDelete, "Error deleting: %v", err)
					errs = append(errs, fmt.Errorf("deleting pod %s: %w", p.Name, err))
					return
				}
				deleted = append(deleted, p.UID)
				if err == nil {
					r.Recorder.Eventf(rs, corev1.EventTypeNormal, reasonSuccessfulDelete, "Deleted pod: %v", p.Name)
				}
			}()
		}
		wg.Wait()
		r.exp.Expect(key, nil, deleted, now)
		if len(errs) > 0 {
			return reasonFailedDelete, errors.Join(errs...)
		}
	}
	return "", nil
}

// createBatch creates size pods in parallel and returns the names created.
func (r *Reconciler) createBatch(ctx context.Context, rs *appsv1.ReplicaSet, ref metav1.OwnerReference, size int) ([]string, error) {
	var mu sync.Mutex
	var names []string
	var errs []error
	var wg sync.WaitGroup
	for range size {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pod := podFromTemplate(rs, ref)
			err := r.Client.Create(ctx, pod)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				// A namespace being deleted refuses pods; that is not the set's failure.
				if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
					return
				}
				r.Recorder.Eventf(rs, corev1.EventTypeWarning, reasonFailedCreate, "Error creating: %v", err)
				errs = append(errs, fmt.Errorf("creating pod for %s: %w", rs.Name, err))
				return
			}
			names = append(names, pod.Name)
			r.writes.Wrote(client.ObjectKeyFromObject(rs), rs.UID, pod)
			r.Recorder.Eventf(rs, corev1.EventTypeNormal, reasonSuccessfulCreate, "Created pod: %v", pod.Name)
		}()
	}
	wg.Wait()
	return names, errors.Join(errs...)
}

// podFromTemplate builds a pod for rs from its template, as upstream's
// GetPodFromTemplate does: labels, annotations and finalizers of the
// template, a generated name "<rs>-", and the controller reference.
func podFromTemplate(rs *appsv1.ReplicaSet, ref metav1.OwnerReference) *corev1.Pod {
	t := rs.Spec.Template.DeepCopy()
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       rs.Namespace,
			GenerateName:    rs.Name + "-",
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{ref},
		},
		Spec: t.Spec,
	}
}
