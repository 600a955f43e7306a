package job

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
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
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kubeseed/kubeseed/controllers/consistency"
	"github.com/kubeseed/kubeseed/controllers/expectations"
	"github.com/kubeseed/kubeseed/controllers/ownership"
)

// Name is the controller's name in events.
const Name = "job-controller"

var kind = batchv1.SchemeGroupVersion.WithKind("Job")

// Reconciler runs Jobs' pods to completion.
type Reconciler struct {
	Client    client.Client
	APIReader client.Reader
	Recorder  record.EventRecorder
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PodFailureBackoff is the first wait before replacing a failed pod;
	// zero means DefaultPodFailureBackoff.
	PodFailureBackoff time.Duration

	exp *expectations.Expectations
	mu  sync.Mutex
	// backoff counts failures in a row per Job, as upstream keeps them in
	// memory: a restart forgets them, which only shortens one wait.
	backoff map[types.UID]*failures
	// released remembers, per Job, pods whose finalizer this controller
	// removed (and so counted) while the cache may still show it, so a stale
	// cache never counts a pod twice (upstream's finalizer expectations).
	released map[types.UID]map[types.UID]bool
	// writes holds a Job's sync back until the caches have seen what the
	// last one wrote: a Job cache older than the pod cache would show a
	// pod counted and released as neither (upstream's
	// StaleControllerConsistencyJob).
	writes *consistency.Tracker
}

type failures struct {
	inARow int
	last   time.Time
}

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=batch,resources=jobs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch,resources=jobs/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;update;patch;delete
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
	r.backoff = map[types.UID]*failures{}
	r.released = map[types.UID]map[types.UID]bool{}
	r.writes = consistency.ForCache(mgr.GetCache())
	if err := ownership.IndexControllerUID(mgr, &corev1.Pod{}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("job").
		For(&batchv1.Job{}).
		Watches(&corev1.Pod{}, ownership.Handler(ownership.Owner{
			APIVersion: kind.GroupVersion().String(), Kind: kind.Kind,
			OnDelete: func(key types.NamespacedName, obj client.Object) {
				if p, ok := obj.(*corev1.Pod); ok {
					r.exp.ObserveGone(key, p)
				}
			},
		})).
		WithOptions(controller.Options{MaxConcurrentReconciles: 5}).
		Complete(r)
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Reconcile syncs one Job.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	if err := r.writes.Ready(req.NamespacedName); err != nil {
		// The cache's own event for the write queues the Job again; the
		// delay is a fallback.
		log.FromContext(ctx).V(4).Info("Waiting for the cache", "reason", err.Error())
		return ctrl.Result{RequeueAfter: consistency.RetryAfter}, nil
	}
	var cached batchv1.Job
	if err := r.Client.Get(ctx, req.NamespacedName, &cached); err != nil {
		if apierrors.IsNotFound(err) {
			r.exp.Forget(req.NamespacedName)
			r.writes.Forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	res, err := r.sync(ctx, cached.DeepCopy())
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return ctrl.Result{Requeue: true}, nil
	}
	return res, err
}

func (r *Reconciler) sync(ctx context.Context, job *batchv1.Job) (ctrl.Result, error) {
	selector, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil || selector.Empty() {
		return ctrl.Result{}, nil
	}
	key := client.ObjectKeyFromObject(job)
	var podList, orphans corev1.PodList
	if err := ownership.ListCandidates(ctx, r.Client, job.Namespace, job, selector, &podList, &orphans); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing pods of %s: %w", job.Name, err)
	}
	podList.Items = append(podList.Items, orphans.Items...)
	candidates := ownership.Pointers(podList.Items)
	ref := ownership.NewControllerRef(job, kind.GroupVersion().String(), kind.Kind)
	pods, err := ownership.Claim(ctx, r.Client, job, ref, selector, candidates, ownership.RecheckOwner(r.APIReader, &batchv1.Job{}, job))
	if err != nil {
		return ctrl.Result{}, err
	}
	if finished(job) {
		// Counted already: only let go of pods still held.
		return ctrl.Result{}, r.removeFinalizers(ctx, job, pods)
	}
	now := r.now()
	satisfied := r.exp.Satisfied(key, podList.Items, now)
	st := job.Status.DeepCopy()
	if st.UncountedTerminatedPods == nil {
		st.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	uncountedS, uncountedF := uidSet(st.UncountedTerminatedPods.Succeeded), uidSet(st.UncountedTerminatedPods.Failed)

	completions := int(ptr.Deref(job.Spec.Completions, 0))
	succeededIdx := parseIndexes(st.CompletedIndexes, completions)
	var active, toRelease []*corev1.Pod
	var newS, newF int
	counted := r.countedReleases(job.UID, pods)
	for _, p := range pods {
		if podActive(p) {
			active = append(active, p)
		}
		if counted[p.UID] || (!hasFinalizer(p) && !uncountedS[p.UID] && !uncountedF[p.UID]) {
			continue
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			if !uncountedS[p.UID] {
				uncountedS[p.UID] = true
				newS++
			}
			if i := indexOf(p); isIndexed(job) && i >= 0 && i < completions {
				succeededIdx[i] = true
			}
			toRelease = append(toRelease, p)
		case failedFor(job, p):
			if _, counts := matchFailurePolicy(job.Spec.PodFailurePolicy, p); counts && !uncountedF[p.UID] {
				uncountedF[p.UID] = true
				newF++
			}
			toRelease = append(toRelease, p)
		}
	}
	var failJobMsg *string
	for _, p := range pods {
		if failJobMsg == nil && failedFor(job, p) {
			failJobMsg, _ = matchFailurePolicy(job.Spec.PodFailurePolicy, p)
		}
	}
	succeeded := st.Succeeded + int32(len(uncountedS))
	if isIndexed(job) {
		succeeded = int32(len(succeededIdx))
	}
	failed := st.Failed + int32(len(uncountedF))
	fails := r.recordFailures(job.UID, newS, newF, now)

	if st.StartTime == nil && !suspended(job) {
		st.StartTime = &metav1.Time{Time: now}
	}
	probe := job.DeepCopy()
	probe.Status.StartTime = st.StartTime
	out := decideOutcome(probe, succeeded, failed, int32(len(active)), failJobMsg, now)
	// With backoffLimitPerIndex, indexes fail on their own; a finished index,
	// succeeded or failed, gets no more pods.
	finishedIdx := succeededIdx
	var fi indexFailures
	if perIndex(job) {
		fi = indexFailuresOf(job, pods, parseIndexes(ptr.Deref(st.FailedIndexes, ""), completions))
		if out == nil {
			out = indexOutcome(job, fi.failed, succeededIdx)
		}
		finishedIdx = map[int]bool{}
		for i := range succeededIdx {
			finishedIdx[i] = true
		}
		for i := range fi.failed {
			finishedIdx[i] = true
		}
	}

	var deletes []*corev1.Pod
	var creates []*corev1.Pod
	var requeue time.Duration
	switch {
	case out != nil && out.interim == batchv1.JobFailureTarget, suspended(job):
		deletes = active
	case out == nil && satisfied && job.DeletionTimestamp == nil:
		keep := active
		if isIndexed(job) {
			keep, deletes = r.dedupIndexes(job, active, finishedIdx)
		}
		want := int(wantActive(job, succeeded+int32(len(fi.failed)), int32(len(keep))))
		// Under podReplacementPolicy Failed, a terminating pod still holds
		// its place until it has failed.
		holding := 0
		if onlyReplaceFailed(job) {
			for _, p := range pods {
				if podTerminating(p) {
					holding++
				}
			}
		}
		switch {
		case len(keep) > want:
			deletes = append(deletes, toDelete(keep, len(keep)-want)...)
		case len(keep)+holding < want:
			base := r.PodFailureBackoff
			if base == 0 {
				base = DefaultPodFailureBackoff
			}
			if wait := fails.last.Add(backoffDelay(base, fails.inARow)).Sub(now); !perIndex(job) && fails.inARow > 0 && wait > 0 {
				requeue = wait
				break
			}
			n := want - len(keep) - holding
			if isIndexed(job) {
				activeIdx := map[int]bool{}
				for _, p := range keep {
					activeIdx[indexOf(p)] = true
				}
				for _, i := range pendingIndexes(completions, finishedIdx, activeIdx, completions) {
					if len(creates) == n {
						break
					}
					p := newPod(job, ref, i)
					if perIndex(job) {
						// Each index backs off on its own failures.
						if wait := fi.lastFail[i].Add(backoffDelay(base, fi.next[i])).Sub(now); fi.next[i] > 0 && wait > 0 {
							if requeue == 0 || wait < requeue {
								requeue = wait
							}
							continue
						}
						p.Annotations[failureCountAnnotation] = strconv.Itoa(fi.next[i])
					}
					creates = append(creates, p)
				}
			} else {
				for range n {
					creates = append(creates, newPod(job, ref, -1))
				}
			}
		}
	}
	deleted, created, actErr := r.act(ctx, job, deletes, creates)

	// Record the finished pods before letting them go, so none is lost.
	st.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: uidList(uncountedS), Failed: uidList(uncountedF)}
	if newS+newF > 0 {
		job.Status = *st
		if err := r.Client.Status().Update(ctx, job); err != nil {
			return ctrl.Result{}, fmt.Errorf("recording finished pods of %s: %w", job.Name, err)
		}
		r.writes.Wrote(key, job.UID, job)
		st = job.Status.DeepCopy()
	}
	released := r.release(ctx, job, toRelease)
	r.rememberReleases(job.UID, released)
	for _, p := range toRelease {
		if !released[p.UID] {
			continue
		}
		if uncountedS[p.UID] {
			delete(uncountedS, p.UID)
			if !isIndexed(job) {
				st.Succeeded++
			}
		}
		if uncountedF[p.UID] {
			delete(uncountedF, p.UID)
			st.Failed++
		}
	}
	if isIndexed(job) {
		st.Succeeded = int32(len(succeededIdx))
		st.CompletedIndexes = formatIndexes(succeededIdx)
	}
	if perIndex(job) {
		st.FailedIndexes = ptr.To(formatIndexes(fi.failed))
	}
	st.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: uidList(uncountedS), Failed: uidList(uncountedF)}

	terminating := int32(deleted)
	ready := int32(0)
	for _, p := range pods {
		if podTerminating(p) {
			terminating++
		}
		if podActive(p) && podReady(p) {
			ready++
		}
	}
	st.Active = int32(len(active) - deleted + created)
	st.Ready = ptr.To(min(ready, st.Active))
	st.Terminating = ptr.To(terminating)
	r.setSuspended(job, st, now)
	if out != nil {
		setCondition(st, out.interim, corev1.ConditionTrue, out.reason, out.msg, now)
		if st.Active == 0 && terminating == 0 && len(uncountedS)+len(uncountedF) == 0 {
			setCondition(st, out.final, corev1.ConditionTrue, out.reason, out.msg, now)
			if out.final == batchv1.JobComplete {
				st.CompletionTime = &metav1.Time{Time: now}
				r.Recorder.Event(job, corev1.EventTypeNormal, "Completed", "Job completed")
			} else {
				r.Recorder.Event(job, corev1.EventTypeWarning, out.reason, out.msg)
			}
		}
	}
	if !equality.Semantic.DeepEqual(*st, job.Status) {
		job.Status = *st
		if err := r.Client.Status().Update(ctx, job); err != nil {
			return ctrl.Result{}, fmt.Errorf("updating status of %s: %w", job.Name, err)
		}
		r.writes.Wrote(key, job.UID, job)
	}
	if actErr != nil {
		return ctrl.Result{}, actErr
	}
	if d := deadlineIn(job, now); d > 0 && (requeue == 0 || d < requeue) {
		requeue = d
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// countedReleases returns the pods released earlier that the cache still
// shows with the finalizer, forgetting those it no longer does.
func (r *Reconciler) countedReleases(job types.UID, pods []*corev1.Pod) map[types.UID]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.released[job]
	if set == nil {
		return nil
	}
	still := map[types.UID]bool{}
	for _, p := range pods {
		if set[p.UID] && hasFinalizer(p) {
			still[p.UID] = true
		}
	}
	r.released[job] = still
	return still
}

func (r *Reconciler) rememberReleases(job types.UID, released map[types.UID]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released[job] == nil {
		r.released[job] = map[types.UID]bool{}
	}
	for u := range released {
		r.released[job][u] = true
	}
}

// recordFailures updates the Job's failures in a row and returns them.
func (r *Reconciler) recordFailures(uid types.UID, newSucceeded, newFailed int, now time.Time) failures {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.backoff[uid]
	if f == nil {
		f = &failures{}
		r.backoff[uid] = f
	}
	if newSucceeded > 0 {
		f.inARow = 0
	}
	if newFailed > 0 {
		f.inARow += newFailed
		f.last = now
	}
	return *f
}

// dedupIndexes keeps one active pod per pending index and returns the
// others (duplicates, indexes out of range or already succeeded) to delete.
func (r *Reconciler) dedupIndexes(job *batchv1.Job, active []*corev1.Pod, succeeded map[int]bool) (keep, drop []*corev1.Pod) {
	completions := int(ptr.Deref(job.Spec.Completions, 0))
	seen := map[int]bool{}
	for _, p := range active {
		i := indexOf(p)
		if i < 0 || i >= completions || succeeded[i] || seen[i] {
			drop = append(drop, p)
			continue
		}
		seen[i] = true
		keep = append(keep, p)
	}
	return keep, drop
}

// setSuspended keeps the Suspended condition, and restarts the clock of a
// resumed Job as upstream does.
func (r *Reconciler) setSuspended(job *batchv1.Job, st *batchv1.JobStatus, now time.Time) {
	if suspended(job) {
		if setCondition(st, batchv1.JobSuspended, corev1.ConditionTrue, "JobSuspended", "Job suspended", now) {
			r.Recorder.Event(job, corev1.EventTypeNormal, "Suspended", "Job suspended")
		}
		return
	}
	if conditionTrue(st, batchv1.JobSuspended) {
		setCondition(st, batchv1.JobSuspended, corev1.ConditionFalse, "JobResumed", "Job resumed", now)
		st.StartTime = &metav1.Time{Time: now}
		r.Recorder.Event(job, corev1.EventTypeNormal, "Resumed", "Job resumed")
	}
}

// act deletes and creates pods (creations in slow-start batches), recording
// expectations and events; it returns how many of each succeeded.
func (r *Reconciler) act(ctx context.Context, job *batchv1.Job, deletes, creates []*corev1.Pod) (int, int, error) {
	key := client.ObjectKeyFromObject(job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var created []string
	var deleted []types.UID
	var errs []error
	for _, p := range deletes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := r.Client.Delete(ctx, p, client.Preconditions{UID: &p.UID})
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !apierrors.IsNotFound(err) {
				r.Recorder.Eventf(job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
				errs = append(errs, err)
				return
			}
			deleted = append(deleted, p.UID)
			if err == nil {
				r.Recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %v", p.Name)
			}
		}()
	}
	wg.Wait()
	next := 0
	for size := 1; next < len(creates) && len(errs) == 0; size *= 2 {
		batch := creates[next:min(next+size, len(creates))]
		next += len(batch)
		for _, p := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := r.Client.Create(ctx, p)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
						return
					}
					r.Recorder.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
					errs = append(errs, err)
					return
				}
				created = append(created, p.Name)
				r.writes.Wrote(key, job.UID, p)
				r.Recorder.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %v", p.Name)
			}()
		}
		wg.Wait()
	}
	r.exp.Expect(key, created, deleted, r.now())
	return len(deleted), len(created), errors.Join(errs...)
}

// finalizerPatch removes the tracking finalizer and nothing else.
var finalizerPatch = client.RawPatch(types.StrategicMergePatchType,
	[]byte(`{"metadata":{"$deleteFromPrimitiveList/finalizers":["`+trackingFinalizer+`"]}}`))

// release removes the tracking finalizer from pods and returns those now
// free of it (or gone).
func (r *Reconciler) release(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod) map[types.UID]bool {
	key := client.ObjectKeyFromObject(job)
	out := map[types.UID]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range pods {
		if !hasFinalizer(p) {
			out[p.UID] = true
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := r.Client.Patch(ctx, p, finalizerPatch)
			if err == nil {
				r.writes.Wrote(key, job.UID, p)
			}
			if err == nil || apierrors.IsNotFound(err) {
				mu.Lock()
				out[p.UID] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

func (r *Reconciler) removeFinalizers(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod) error {
	var held []*corev1.Pod
	for _, p := range pods {
		if hasFinalizer(p) {
			held = append(held, p)
		}
	}
	if got := r.release(ctx, job, held); len(got) != len(held) {
		return fmt.Errorf("removing tracking finalizers: %d of %d left", len(held)-len(got), len(held))
	}
	return nil
}

// newPod builds a pod of the Job; index >= 0 makes it the pod of that
// completion index (annotation, label, hostname, JOB_COMPLETION_INDEX).
func newPod(job *batchv1.Job, ref metav1.OwnerReference, index int) *corev1.Pod {
	t := job.Spec.Template.DeepCopy()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       job.Namespace,
			GenerateName:    job.Name + "-",
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      append(t.Finalizers, trackingFinalizer),
			OwnerReferences: []metav1.OwnerReference{ref},
		},
		Spec: t.Spec,
	}
	if index < 0 {
		return pod
	}
	idx := strconv.Itoa(index)
	pod.GenerateName = job.Name + "-" + idx + "-"
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[batchv1.JobCompletionIndexAnnotation] = idx
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[batchv1.JobCompletionIndexAnnotation] = idx
	if pod.Spec.Hostname == "" {
		pod.Spec.Hostname = job.Name + "-" + idx
	}
	env := corev1.EnvVar{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		FieldPath: "metadata.annotations['" + batchv1.JobCompletionIndexAnnotation + "']",
	}}}
	addEnv := func(cs []corev1.Container) {
		for i := range cs {
			found := false
			for _, e := range cs[i].Env {
				found = found || e.Name == env.Name
			}
			if !found {
				cs[i].Env = append(cs[i].Env, env)
			}
		}
	}
	addEnv(pod.Spec.Containers)
	addEnv(pod.Spec.InitContainers)
	return pod
}

func uidSet(uids []types.UID) map[types.UID]bool {
	out := map[types.UID]bool{}
	for _, u := range uids {
		out[u] = true
	}
	return out
}

func uidList(set map[types.UID]bool) []types.UID {
	out := []types.UID{}
	for u := range set {
		out = append(out, u)
	}
	sortUIDs(out)
	return out
}
