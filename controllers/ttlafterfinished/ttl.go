package ttlafterfinished

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
)

// finishedAt is when a Job finished, or nil while it runs.
func finishedAt(j *batchv1.Job) *time.Time {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			if j.Status.CompletionTime != nil {
				return &j.Status.CompletionTime.Time
			}
			return &c.LastTransitionTime.Time
		case batchv1.JobFailed:
			return &c.LastTransitionTime.Time
		}
	}
	return nil
}

// expiresIn is how long a Job has left; ok is false when it never expires
// (no TTL, not finished, already being deleted).
func expiresIn(j *batchv1.Job, now time.Time) (time.Duration, bool) {
	if j.Spec.TTLSecondsAfterFinished == nil || j.DeletionTimestamp != nil {
		return 0, false
	}
	at := finishedAt(j)
	if at == nil {
		return 0, false
	}
	return at.Add(time.Duration(*j.Spec.TTLSecondsAfterFinished) * time.Second).Sub(now), true
}

// Reconciler deletes expired finished Jobs.
type Reconciler struct {
	Client    client.Client
	APIReader client.Reader
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=get;list;watch;delete

// SetupWithManager registers the controller with mgr.
func SetupWithManager(mgr ctrl.Manager) error {
	r := &Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader()}
	return ctrl.NewControllerManagedBy(mgr).
		Named("ttlafterfinished").
		For(&batchv1.Job{}).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Complete(r)
}

// Reconcile deletes one Job if it expired, or waits until it does.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	var j batchv1.Job
	if err := r.Client.Get(ctx, req.NamespacedName, &j); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	left, ok := expiresIn(&j, now)
	if !ok {
		return ctrl.Result{}, nil
	}
	if left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	// The cache may lag a TTL change: decide on a fresh read, as upstream does.
	var fresh batchv1.Job
	if err := r.APIReader.Get(ctx, req.NamespacedName, &fresh); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if left, ok = expiresIn(&fresh, now); !ok || left > 0 {
		return ctrl.Result{RequeueAfter: max(left, 0)}, nil
	}
	ctrl.LoggerFrom(ctx).V(2).Info("deleting expired job", "job", req.NamespacedName)
	err := r.Client.Delete(ctx, &fresh, client.PropagationPolicy(metav1.DeletePropagationForeground),
		client.Preconditions{UID: &fresh.UID, ResourceVersion: &fresh.ResourceVersion})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return ctrl.Result{}, fmt.Errorf("deleting expired job %s: %w", req, err)
	}
	return ctrl.Result{}, nil
}
