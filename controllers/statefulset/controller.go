package statefulset

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/kubeseed/kubeseed/controllers/consistency"
	"github.com/kubeseed/kubeseed/controllers/ownership"
	"github.com/kubeseed/kubeseed/controllers/revision"
)

// Name is the controller's name in events.
const Name = "statefulset-controller"

var kind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

// Reconciler keeps StatefulSets' pods, claims and revisions.
type Reconciler struct {
	Client    client.Client
	APIReader client.Reader
	Recorder  record.EventRecorder

	// writes holds a sync back until the caches have seen the last one's
	// writes (upstream's StaleControllerConsistencyStatefulSet): a stale
	// revision cache would otherwise make a revision anew.
	writes *consistency.Tracker
}

// +kubebuilder:rbac:groups=apps,resources=statefulsets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=apps,resources=statefulsets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=apps,resources=statefulsets/finalizers,verbs=update
// +kubebuilder:rbac:groups=apps,resources=controllerrevisions,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;create;update;patch
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
	r.writes = consistency.ForCache(mgr.GetCache())
	if err := ownership.IndexControllerUID(mgr, &corev1.Pod{}); err != nil {
		return err
	}
	if err := ownership.IndexControllerUID(mgr, &appsv1.ControllerRevision{}); err != nil {
		return err
	}
	owner := ownership.Owner{APIVersion: kind.GroupVersion().String(), Kind: kind.Kind, Matching: r.matching}
	return ctrl.NewControllerManagedBy(mgr).
		Named("statefulset").
		For(&appsv1.StatefulSet{}).
		Watches(&corev1.Pod{}, ownership.Handler(owner)).
		Watches(&appsv1.ControllerRevision{}, ownership.Handler(owner)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 5}).
		Complete(r)
}

func (r *Reconciler) matching(ctx context.Context, obj client.Object) []types.NamespacedName {
	var list appsv1.StatefulSetList
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

// Reconcile syncs one StatefulSet.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.writes.Ready(req.NamespacedName); err != nil {
		ctrl.LoggerFrom(ctx).V(4).Info("Waiting for the cache", "reason", err.Error())
		return ctrl.Result{RequeueAfter: consistency.RetryAfter}, nil
	}
	var cached appsv1.StatefulSet
	if err := r.Client.Get(ctx, req.NamespacedName, &cached); err != nil {
		if apierrors.IsNotFound(err) {
			r.writes.Forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	set := cached.DeepCopy()
	res, err := r.sync(ctx, set)
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		// The cache lags a write of ours; its watch event brings us back.
		return ctrl.Result{Requeue: true}, nil
	}
	return res, err
}

func (r *Reconciler) sync(ctx context.Context, set *appsv1.StatefulSet) (ctrl.Result, error) {
	selector, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil || selector.Empty() {
		return ctrl.Result{}, nil // the API server validates selectors
	}
	ref := ownership.NewControllerRef(set, kind.GroupVersion().String(), kind.Kind)
	recheck := ownership.RecheckOwner(r.APIReader, &appsv1.StatefulSet{}, set)

	var revList, revOrphans appsv1.ControllerRevisionList
	if err := ownership.ListCandidates(ctx, r.Client, set.Namespace, set, selector, &revList, &revOrphans); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing revisions of %s: %w", set.Name, err)
	}
	revList.Items = append(revList.Items, revOrphans.Items...)
	revs, err := ownership.Claim(ctx, r.Client, set, ref, selector, ownership.Pointers(revList.Items), recheck)
	if err != nil {
		return ctrl.Result{}, err
	}

	var podList, orphans corev1.PodList
	if err := ownership.ListCandidates(ctx, r.Client, set.Namespace, set, selector, &podList, &orphans); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing pods of %s: %w", set.Name, err)
	}
	podList.Items = append(podList.Items, orphans.Items...)
	var candidates []*corev1.Pod
	for i := range podList.Items {
		p := &podList.Items[i]
		// Only pods named as members of this set may be adopted.
		if parent, ord := ordinalOf(p); parent == set.Name && ord >= 0 || metav1.IsControlledBy(p, set) {
			candidates = append(candidates, p)
		}
	}
	pods, err := ownership.Claim(ctx, r.Client, set, ref, selector, candidates, recheck)
	if err != nil {
		return ctrl.Result{}, err
	}

	current, update, collisionCount, err := r.revisions(ctx, set, ref, revs)
	if err != nil {
		return ctrl.Result{}, err
	}
	currentSet, err := applyRevision(set, current.Data.Raw)
	if err != nil {
		return ctrl.Result{}, err
	}
	updateSet, err := applyRevision(set, update.Data.Raw)
	if err != nil {
		return ctrl.Result{}, err
	}
	observed := *set.Status.DeepCopy()
	set.Status.CollisionCount = ptr.To(collisionCount)
	now := time.Now()
	status, steps := plan(set, pods, revisions{current: currentSet, update: updateSet, currentName: current.Name, updateName: update.Name}, ref, now)
	var stepErr error
	for _, s := range steps {
		if stepErr = r.do(ctx, set, updateSet, s); stepErr != nil {
			break
		}
	}
	if !equality.Semantic.DeepEqual(status, observed) {
		set.Status = status
		if err := r.Client.Status().Update(ctx, set); err != nil {
			return ctrl.Result{}, fmt.Errorf("updating status of %s: %w", set.Name, err)
		}
		r.writes.Wrote(client.ObjectKeyFromObject(set), set.UID, set)
	}
	if stepErr != nil {
		return ctrl.Result{}, stepErr
	}
	var res ctrl.Result
	if set.Spec.MinReadySeconds > 0 && status.AvailableReplicas < status.ReadyReplicas {
		// Look again when the ready pods have been ready long enough.
		res.RequeueAfter = time.Duration(set.Spec.MinReadySeconds)*time.Second + 100*time.Millisecond
	}
	return res, r.truncateHistory(ctx, set, pods, revs, current, update)
}

// revisions finds or creates the update revision (the set's template now)
// and the current one (status.currentRevision), as upstream's
// getStatefulSetRevisions: a template equal to an older revision reuses it
// with the next revision number (a rollback).
func (r *Reconciler) revisions(ctx context.Context, set *appsv1.StatefulSet, ref metav1.OwnerReference, revs []*appsv1.ControllerRevision) (*appsv1.ControllerRevision, *appsv1.ControllerRevision, int32, error) {
	revision.Sort(revs)
	collisionCount := ptr.Deref(set.Status.CollisionCount, 0)
	patch, err := patchOf(set)
	if err != nil {
		return nil, nil, 0, err
	}
	update := revision.New(set, ref, set.Spec.Template.Labels, patch, revision.Next(revs), &collisionCount)
	if set.Annotations != nil {
		update.Annotations = map[string]string{}
		for k, v := range set.Annotations {
			update.Annotations[k] = v
		}
	}
	equal := revision.FindEqual(revs, update)
	switch {
	case len(equal) > 0 && revision.Equal(revs[len(revs)-1], equal[len(equal)-1]):
		update = revs[len(revs)-1]
	case len(equal) > 0:
		old := equal[len(equal)-1].DeepCopy()
		old.Revision = update.Revision
		if err := r.Client.Update(ctx, old); err != nil {
			return nil, nil, 0, fmt.Errorf("moving revision %s forward: %w", old.Name, err)
		}
		r.writes.Wrote(client.ObjectKeyFromObject(set), set.UID, old)
		update = old
	default:
		created, err := r.createRevision(ctx, set, ref, update, patch, &collisionCount)
		if err != nil {
			return nil, nil, 0, err
		}
		update = created
	}
	var current *appsv1.ControllerRevision
	for _, rv := range revs {
		if rv.Name == set.Status.CurrentRevision {
			current = rv
		}
	}
	if current == nil {
		current = update
	}
	return current, update, collisionCount, nil
}

// createRevision creates cr, moving to the next collision count while its
// name is taken by a revision with other data.
func (r *Reconciler) createRevision(ctx context.Context, set *appsv1.StatefulSet, ref metav1.OwnerReference, cr *appsv1.ControllerRevision, patch []byte, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	for range 10 {
		err := r.Client.Create(ctx, cr)
		if err == nil {
			r.writes.Wrote(client.ObjectKeyFromObject(set), set.UID, cr)
			return cr, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating revision %s: %w", cr.Name, err)
		}
		var existing appsv1.ControllerRevision
		if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(cr), &existing); err != nil {
			return nil, err
		}
		if revision.Equal(&existing, cr) && metav1.IsControlledBy(&existing, set) {
			return &existing, nil
		}
		*collisionCount++
		next := revision.New(set, ref, set.Spec.Template.Labels, patch, cr.Revision, collisionCount)
		next.Annotations = cr.Annotations
		cr = next
	}
	return nil, fmt.Errorf("revision names of %s keep colliding", set.Name)
}

// do carries out one step of the plan.
func (r *Reconciler) do(ctx context.Context, set, updateSet *appsv1.StatefulSet, s step) error {
	switch s.kind {
	case createPod:
		if err := r.createClaims(ctx, set, s.pod); err != nil {
			return err
		}
		err := r.Client.Create(ctx, s.pod)
		r.recordPod("create", set, s.pod, err)
		return err
	case deletePod:
		if s.condemned {
			if err := r.releaseClaimsOnScaleDown(ctx, set, s.pod); err != nil {
				return err
			}
		}
		err := r.Client.Delete(ctx, s.pod, client.Preconditions{UID: &s.pod.UID})
		if apierrors.IsNotFound(err) {
			return nil
		}
		r.recordPod("delete", set, s.pod, err)
		return err
	case fixIdentity:
		p := s.pod.DeepCopy()
		_, ord := ordinalOf(p)
		p.Labels[appsv1.StatefulSetPodNameLabel] = p.Name
		p.Labels[appsv1.PodIndexLabel] = fmt.Sprint(ord)
		err := r.Client.Update(ctx, p)
		r.recordPod("update", set, p, err)
		return err
	}
	return nil
}

// recordPod records upstream's event for a pod write, and the write.
func (r *Reconciler) recordPod(verb string, set *appsv1.StatefulSet, pod *corev1.Pod, err error) {
	title := map[string]string{"create": "Create", "delete": "Delete", "update": "Update"}[verb]
	if err == nil {
		r.writes.Wrote(client.ObjectKeyFromObject(set), set.UID, pod)
		r.Recorder.Eventf(set, corev1.EventTypeNormal, "Successful"+title, "%s Pod %s in StatefulSet %s successful", title, pod.Name, set.Name)
		return
	}
	r.Recorder.Eventf(set, corev1.EventTypeWarning, "Failed"+title, "%s Pod %s in StatefulSet %s failed error: %s", title, pod.Name, set.Name, err)
}

// createClaims creates the pod's missing claims; with whenDeleted=Delete
// they are owned by the set so the garbage collector removes them with it.
func (r *Reconciler) createClaims(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	_, ord := ordinalOf(pod)
	whenDeleted, _ := retention(set)
	for _, c := range claimsFor(set, ord) {
		var existing corev1.PersistentVolumeClaim
		err := r.Client.Get(ctx, client.ObjectKeyFromObject(&c), &existing)
		if err == nil {
			continue
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("getting claim %s: %w", c.Name, err)
		}
		if whenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
			c.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(set, kind)}
		}
		err = r.Client.Create(ctx, &c)
		if apierrors.IsAlreadyExists(err) {
			continue
		}
		if err != nil {
			r.Recorder.Eventf(set, corev1.EventTypeWarning, "FailedCreate", "Create Claim %s for Pod %s in StatefulSet %s failed error: %s", c.Name, pod.Name, set.Name, err)
			return fmt.Errorf("creating claim %s: %w", c.Name, err)
		}
		r.Recorder.Eventf(set, corev1.EventTypeNormal, "SuccessfulCreate", "Create Claim %s Pod %s in StatefulSet %s success", c.Name, pod.Name, set.Name)
	}
	return nil
}

// releaseClaimsOnScaleDown hands the claims of a pod removed by a scale-down
// to that pod when whenScaled=Delete, so they go with it.
func (r *Reconciler) releaseClaimsOnScaleDown(ctx context.Context, set *appsv1.StatefulSet, pod *corev1.Pod) error {
	if _, whenScaled := retention(set); whenScaled != appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
		return nil
	}
	_, ord := ordinalOf(pod)
	for _, c := range claimsFor(set, ord) {
		var claim corev1.PersistentVolumeClaim
		if err := r.Client.Get(ctx, client.ObjectKeyFromObject(&c), &claim); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return err
		}
		var refs []metav1.OwnerReference
		for _, o := range claim.OwnerReferences {
			if o.UID != set.UID {
				refs = append(refs, o)
			}
		}
		refs = append(refs, *metav1.NewControllerRef(pod, corev1.SchemeGroupVersion.WithKind("Pod")))
		claim.OwnerReferences = refs
		if err := r.Client.Update(ctx, &claim); err != nil {
			return fmt.Errorf("handing claim %s to pod %s: %w", claim.Name, pod.Name, err)
		}
	}
	return nil
}

// truncateHistory deletes revisions beyond revisionHistoryLimit that no pod
// uses and that are neither current nor the update.
func (r *Reconciler) truncateHistory(ctx context.Context, set *appsv1.StatefulSet, pods []*corev1.Pod, revs []*appsv1.ControllerRevision, current, update *appsv1.ControllerRevision) error {
	live := map[string]bool{current.Name: true, update.Name: true}
	for _, p := range pods {
		live[revisionOf(p)] = true
	}
	limit := 10
	if set.Spec.RevisionHistoryLimit != nil {
		limit = int(*set.Spec.RevisionHistoryLimit)
	}
	for _, rv := range revision.ToDelete(revs, live, limit) {
		if err := r.Client.Delete(ctx, rv, client.Preconditions{UID: &rv.UID}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting revision %s: %w", rv.Name, err)
		}
	}
	return nil
}
