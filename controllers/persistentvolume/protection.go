package persistentvolume

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// The finalizers the API server's StorageObjectInUseProtection admission puts
// on every claim and volume; upstream's pvc-protection and pv-protection
// controllers lift them once the object is no longer in use.
const (
	PVCProtectionFinalizer = "kubernetes.io/pvc-protection"
	PVProtectionFinalizer  = "kubernetes.io/pv-protection"
)

// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims;persistentvolumes,verbs=get;list;watch;update

// ClaimInUse says whether a pod that is not finished uses the claim, directly
// or through a generic ephemeral volume (whose claim is named pod-volume).
func ClaimInUse(claim *corev1.PersistentVolumeClaim, pods []corev1.Pod) bool {
	for i := range pods {
		p := &pods[i]
		if p.Namespace != claim.Namespace || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, v := range p.Spec.Volumes {
			if v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim.Name {
				return true
			}
			if v.Ephemeral != nil && p.Name+"-"+v.Name == claim.Name {
				return true
			}
		}
	}
	return false
}

type claimProtection struct{ client client.Client }

type volumeProtection struct{ client client.Client }

// setupProtection adds the pvc-protection and pv-protection controllers.
func setupProtection(mgr ctrl.Manager) error {
	c := mgr.GetClient()
	err := ctrl.NewControllerManagedBy(mgr).
		Named("pvc-protection").
		For(&corev1.PersistentVolumeClaim{}).
		// A pod going away may free the claims it used.
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			p := o.(*corev1.Pod)
			var out []reconcile.Request
			for _, v := range p.Spec.Volumes {
				if v.PersistentVolumeClaim != nil {
					out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: p.Namespace, Name: v.PersistentVolumeClaim.ClaimName}})
				}
			}
			return out
		})).
		Complete(&claimProtection{client: c})
	if err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("pv-protection").
		For(&corev1.PersistentVolume{}).
		Complete(&volumeProtection{client: c})
}

// Reconcile lifts the finalizer of a deleted claim no pod uses.
func (r *claimProtection) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var claim corev1.PersistentVolumeClaim
	if err := r.client.Get(ctx, req.NamespacedName, &claim); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if claim.DeletionTimestamp == nil || !slices.Contains(claim.Finalizers, PVCProtectionFinalizer) {
		return reconcile.Result{}, nil
	}
	var pods corev1.PodList
	if err := r.client.List(ctx, &pods, client.InNamespace(claim.Namespace)); err != nil {
		return reconcile.Result{}, err
	}
	if ClaimInUse(&claim, pods.Items) {
		return reconcile.Result{}, nil
	}
	claim.Finalizers = slices.DeleteFunc(claim.Finalizers, func(f string) bool { return f == PVCProtectionFinalizer })
	if err := r.client.Update(ctx, &claim); err != nil {
		return reconcile.Result{}, fmt.Errorf("lifting protection of claim %s: %w", req, err)
	}
	return reconcile.Result{}, nil
}

// Reconcile lifts the finalizer of a deleted volume no claim is bound to.
func (r *volumeProtection) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var pv corev1.PersistentVolume
	if err := r.client.Get(ctx, req.NamespacedName, &pv); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if pv.DeletionTimestamp == nil || !slices.Contains(pv.Finalizers, PVProtectionFinalizer) || pv.Status.Phase == corev1.VolumeBound {
		return reconcile.Result{}, nil
	}
	pv.Finalizers = slices.DeleteFunc(pv.Finalizers, func(f string) bool { return f == PVProtectionFinalizer })
	if err := r.client.Update(ctx, &pv); err != nil {
		return reconcile.Result{}, fmt.Errorf("lifting protection of volume %s: %w", pv.Name, err)
	}
	return reconcile.Result{}, nil
}
