package cronjob

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	"github.com/kubeseed/kubeseed/controllers/ownership"
)

// Name is the controller's name in events.
const Name = "cronjob-controller"

var kind = batchv1.SchemeGroupVersion.WithKind("CronJob")

// Reconciler starts Jobs on CronJobs' schedules.
type Reconciler struct {
	Client   client.Client
	Recorder record.EventRecorder
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// +kubebuilder:rbac:groups=batch,resources=cronjobs,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=batch,resources=cronjobs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=batch,resources=cronjobs/finalizers,verbs=update
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch;update

// SetupWithManager registers the controller with mgr.
func SetupWithManager(mgr ctrl.Manager) error {
	r := &Reconciler{
		Client:   mgr.GetClient(),
		Recorder: mgr.GetEventRecorderFor(Name), //nolint:staticcheck // core/v1 events, as upstream records them
	}
	return r.SetupWithManager(mgr)
}

// SetupWithManager registers r with mgr.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("cronjob").
		For(&batchv1.CronJob{}).
		Watches(&batchv1.Job{}, handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &batchv1.CronJob{}, handler.OnlyControllerOwner())).
		WithOptions(controller.Options{MaxConcurrentReconciles: 5}).
		Complete(r)
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Reconcile syncs one CronJob.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var cached batchv1.CronJob
	if err := r.Client.Get(ctx, req.NamespacedName, &cached); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	cj := cached.DeepCopy()
	res, err := r.sync(ctx, cj)
	if !equality.Semantic.DeepEqual(cj.Status, cached.Status) {
		if uerr := r.Client.Status().Update(ctx, cj); uerr != nil {
			if apierrors.IsConflict(uerr) {
				return ctrl.Result{Requeue: true}, nil
			}
			return ctrl.Result{}, fmt.Errorf("updating status of %s: %w", cj.Name, uerr)
		}
	}
	return res, err
}

func (r *Reconciler) sync(ctx context.Context, cj *batchv1.CronJob) (ctrl.Result, error) {
	var list batchv1.JobList
	if err := r.Client.List(ctx, &list, client.InNamespace(cj.Namespace)); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing jobs of %s: %w", cj.Name, err)
	}
	var jobs []*batchv1.Job
	for i := range list.Items {
		if metav1.IsControlledBy(&list.Items[i], cj) {
			jobs = append(jobs, &list.Items[i])
		}
	}
	r.syncActive(cj, jobs)
	if err := r.cleanupHistory(ctx, cj, jobs); err != nil {
		return ctrl.Result{}, err
	}
	if cj.DeletionTimestamp != nil || ptr.Deref(cj.Spec.Suspend, false) {
		return ctrl.Result{}, nil
	}
	sched, err := parseSchedule(cj)
	if err != nil {
		// A user error: wait for the spec to change.
		r.Recorder.Eventf(cj, corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		return ctrl.Result{}, nil
	}
	now := r.now()
	_, scheduled, missed, err := mostRecent(cj, now, sched, true)
	if err != nil {
		r.Recorder.Eventf(cj, corev1.EventTypeWarning, "InvalidSchedule", "invalid schedule: %s : %s", cj.Spec.Schedule, err)
		return ctrl.Result{}, nil
	}
	next := ctrl.Result{RequeueAfter: nextIn(cj, now, sched)}
	if scheduled == nil {
		return next, nil
	}
	if missed > manyMissed {
		r.Recorder.Eventf(cj, corev1.EventTypeWarning, "TooManyMissedTimes", "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew")
	}
	if tooLate(cj, *scheduled, now) {
		r.Recorder.Eventf(cj, corev1.EventTypeWarning, "MissSchedule", "Missed scheduled time to start a job: %s", scheduled.UTC().Format(time.RFC1123Z))
		return next, nil
	}
	name := jobName(cj, *scheduled)
	for _, a := range cj.Status.Active {
		if a.Name == name {
			return next, nil // this run already started
		}
	}
	if cj.Spec.ConcurrencyPolicy == batchv1.ForbidConcurrent && len(cj.Status.Active) > 0 {
		r.Recorder.Eventf(cj, corev1.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
		return next, nil
	}
	if cj.Spec.ConcurrencyPolicy == batchv1.ReplaceConcurrent {
		for _, a := range cj.Status.Active {
			j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: cj.Namespace, Name: a.Name, UID: a.UID}}
			if err := r.deleteJob(ctx, cj, j); err != nil {
				return ctrl.Result{}, err
			}
		}
		cj.Status.Active = nil
	}
	job, err := newJob(cj, *scheduled)
	if err != nil {
		return ctrl.Result{}, err
	}
	err = r.Client.Create(ctx, job)
	switch {
	case apierrors.IsAlreadyExists(err):
		var existing batchv1.Job
		if gerr := r.Client.Get(ctx, client.ObjectKeyFromObject(job), &existing); gerr != nil {
			return ctrl.Result{}, gerr
		}
		if !metav1.IsControlledBy(&existing, cj) {
			return next, nil // someone else's job holds the name
		}
		job = &existing
	case err != nil:
		r.Recorder.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		return ctrl.Result{}, fmt.Errorf("creating job %s: %w", job.Name, err)
	default:
		r.Recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", job.Name)
	}
	cj.Status.Active = append(cj.Status.Active, jobRef(job))
	cj.Status.LastScheduleTime = &metav1.Time{Time: *scheduled}
	return ctrl.Result{RequeueAfter: nextIn(cj, now, sched)}, nil
}

// syncActive makes status.active the unfinished jobs, and records the last
// success.
func (r *Reconciler) syncActive(cj *batchv1.CronJob, jobs []*batchv1.Job) {
	var active []corev1.ObjectReference
	for _, j := range jobs {
		switch finishedAs(j) {
		case "":
			ref := jobRef(j)
			for _, a := range cj.Status.Active {
				if a.UID == j.UID {
					ref = a // keep the recorded reference, so status does not churn
				}
			}
			active = append(active, ref)
		case batchv1.JobComplete:
			if j.Status.CompletionTime != nil && (cj.Status.LastSuccessfulTime == nil || cj.Status.LastSuccessfulTime.Before(j.Status.CompletionTime)) {
				cj.Status.LastSuccessfulTime = j.Status.CompletionTime
			}
			fallthrough
		default:
			for _, a := range cj.Status.Active {
				if a.UID == j.UID {
					r.Recorder.Eventf(cj, corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, condition: %v", j.Name, finishedAs(j))
				}
			}
		}
	}
	for _, a := range cj.Status.Active {
		found := false
		for _, j := range jobs {
			found = found || j.UID == a.UID
		}
		if !found {
			r.Recorder.Eventf(cj, corev1.EventTypeNormal, "MissingJob", "Active job went missing: %v", a.Name)
		}
	}
	cj.Status.Active = active
}

func (r *Reconciler) cleanupHistory(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) error {
	for _, j := range historyToDelete(cj, jobs) {
		if j.DeletionTimestamp != nil {
			continue
		}
		if err := r.deleteJob(ctx, cj, j); err != nil {
			return err
		}
	}
	return nil
}

// deleteJob deletes a job and its pods (background propagation).
func (r *Reconciler) deleteJob(ctx context.Context, cj *batchv1.CronJob, j *batchv1.Job) error {
	err := r.Client.Delete(ctx, j, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		r.Recorder.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
		return fmt.Errorf("deleting job %s: %w", j.Name, err)
	}
	r.Recorder.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", j.Name)
	return nil
}

// newJob builds the Job of a scheduled time from the template, with the
// scheduled-timestamp annotation in the CronJob's time zone.
func newJob(cj *batchv1.CronJob, scheduled time.Time) (*batchv1.Job, error) {
	loc, err := time.LoadLocation(ptr.Deref(cj.Spec.TimeZone, ""))
	if err != nil {
		return nil, err
	}
	labels := map[string]string{}
	for k, v := range cj.Spec.JobTemplate.Labels {
		labels[k] = v
	}
	annotations := map[string]string{}
	for k, v := range cj.Spec.JobTemplate.Annotations {
		annotations[k] = v
	}
	annotations[batchv1.CronJobScheduledTimestampAnnotation] = scheduled.In(loc).Format(time.RFC3339)
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       cj.Namespace,
			Name:            jobName(cj, scheduled),
			Labels:          labels,
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{ownership.NewControllerRef(cj, kind.GroupVersion().String(), kind.Kind)},
		},
	}
	cj.Spec.JobTemplate.Spec.DeepCopyInto(&job.Spec)
	return job, nil
}

func jobRef(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{
		APIVersion: batchv1.SchemeGroupVersion.String(), Kind: "Job",
		Namespace: j.Namespace, Name: j.Name, UID: j.UID, ResourceVersion: j.ResourceVersion,
	}
}
