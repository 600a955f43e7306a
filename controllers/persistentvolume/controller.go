package persistentvolume

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	volumehelpers "k8s.io/component-helpers/storage/volume"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Event reasons and messages, upstream's.
const (
	ReasonFailedBinding    = "FailedBinding"
	MessageNoVolumes       = "no persistent volumes available for this claim and no storage class is set"
	ReasonWaitForConsumer  = "WaitForFirstConsumer"
	MessageWaitForConsumer = "waiting for first consumer to be created before binding"
	ReasonClaimLost        = "ClaimLost"
	MessageClaimLostVolume = "Bound claim has lost its PersistentVolume. Data on the volume is lost!"
)

// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=get;list;watch;update;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumes/status,verbs=update
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;update
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims/status,verbs=update
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// claimReconciler binds one claim.
type claimReconciler struct {
	client   client.Client
	recorder record.EventRecorder
}

// volumeReconciler keeps one volume's phase and reclaims it.
type volumeReconciler struct {
	client client.Client
	// api reads claims from the API server, not the cache.
	api client.Reader
}

// SetupWithManager adds the binder's two controllers, for claims and for
// volumes, and the claim and volume protection controllers to mgr.
func SetupWithManager(mgr ctrl.Manager) error {
	if err := setupProtection(mgr); err != nil {
		return err
	}
	c := mgr.GetClient()
	claims := &claimReconciler{client: c, recorder: mgr.GetEventRecorderFor("persistentvolume-controller")}
	err := ctrl.NewControllerManagedBy(mgr).
		Named("persistentvolume-claims").
		For(&corev1.PersistentVolumeClaim{}).
		// A new or freed volume may suit any pending claim; a volume's claimRef
		// names the claim it concerns.
		Watches(&corev1.PersistentVolume{}, handler.EnqueueRequestsFromMapFunc(claims.claimsForVolume)).
		Complete(claims)
	if err != nil {
		return err
	}
	volumes := &volumeReconciler{client: c, api: mgr.GetAPIReader()}
	return ctrl.NewControllerManagedBy(mgr).
		Named("persistentvolume-volumes").
		For(&corev1.PersistentVolume{}).
		Watches(&corev1.PersistentVolumeClaim{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			if name := o.(*corev1.PersistentVolumeClaim).Spec.VolumeName; name != "" {
				return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: name}}}
			}
			return nil
		})).
		Complete(volumes)
}

func (r *claimReconciler) claimsForVolume(ctx context.Context, o client.Object) []reconcile.Request {
	pv := o.(*corev1.PersistentVolume)
	if ref := pv.Spec.ClaimRef; ref != nil && ref.UID != "" {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}}}
	}
	var list corev1.PersistentVolumeClaimList
	if err := r.client.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for _, c := range list.Items {
		if c.Status.Phase == corev1.ClaimPending || c.Status.Phase == "" {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: c.Namespace, Name: c.Name}})
		}
	}
	return out
}

// Reconcile binds a pending claim or checks a bound one.
func (r *claimReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var claim corev1.PersistentVolumeClaim
	if err := r.client.Get(ctx, req.NamespacedName, &claim); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if claim.DeletionTimestamp != nil {
		return reconcile.Result{}, nil
	}
	if claim.Spec.VolumeName != "" {
		return reconcile.Result{}, r.syncBound(ctx, &claim)
	}
	delay, err := r.waitsForConsumer(ctx, &claim)
	if err != nil {
		return reconcile.Result{}, err
	}
	if delay && !volumehelpers.IsDelayBindingProvisioning(&claim) {
		r.recorder.Event(&claim, corev1.EventTypeNormal, ReasonWaitForConsumer, MessageWaitForConsumer)
		return reconcile.Result{}, r.setPending(ctx, &claim)
	}
	var list corev1.PersistentVolumeList
	if err := r.client.List(ctx, &list); err != nil {
		return reconcile.Result{}, err
	}
	volumes := make([]*corev1.PersistentVolume, len(list.Items))
	for i := range list.Items {
		volumes[i] = &list.Items[i]
	}
	pv, err := BestVolume(&claim, volumes)
	if err != nil {
		return reconcile.Result{}, err
	}
	if pv == nil {
		if volumehelpers.GetPersistentVolumeClaimClass(&claim) == "" {
			r.recorder.Event(&claim, corev1.EventTypeNormal, ReasonFailedBinding, MessageNoVolumes)
		}
		return reconcile.Result{}, r.setPending(ctx, &claim)
	}
	return reconcile.Result{}, r.bind(ctx, &claim, pv)
}

// waitsForConsumer says whether the claim's StorageClass delays binding
// until a pod using it is scheduled.
func (r *claimReconciler) waitsForConsumer(ctx context.Context, claim *corev1.PersistentVolumeClaim) (bool, error) {
	name := volumehelpers.GetPersistentVolumeClaimClass(claim)
	if name == "" {
		return false, nil
	}
	var sc storagev1.StorageClass
	if err := r.client.Get(ctx, types.NamespacedName{Name: name}, &sc); err != nil {
		return false, client.IgnoreNotFound(err)
	}
	return sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer, nil
}

func (r *claimReconciler) setPending(ctx context.Context, claim *corev1.PersistentVolumeClaim) error {
	if claim.Status.Phase == corev1.ClaimPending {
		return nil
	}
	claim.Status.Phase = corev1.ClaimPending
	return r.client.Status().Update(ctx, claim)
}

// bind writes the volume side first, as upstream does, so a crash in between
// leaves a volume pre-bound to the claim, which the next pass completes.
func (r *claimReconciler) bind(ctx context.Context, claim *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) error {
	log.FromContext(ctx).Info("binding", "claim", req(claim), "volume", pv.Name)
	bound, dirty, err := volumehelpers.GetBindVolumeToClaim(pv, claim)
	if err != nil {
		return err
	}
	if dirty {
		if err := r.client.Update(ctx, bound); err != nil {
			return fmt.Errorf("binding volume %s to claim %s: %w", pv.Name, req(claim), err)
		}
	}
	if bound.Status.Phase != corev1.VolumeBound {
		bound.Status.Phase = corev1.VolumeBound
		if err := r.client.Status().Update(ctx, bound); err != nil {
			return fmt.Errorf("marking volume %s bound: %w", pv.Name, err)
		}
	}
	c := BoundClaim(claim, bound)
	if err := r.client.Update(ctx, c); err != nil {
		return fmt.Errorf("binding claim %s to volume %s: %w", req(claim), pv.Name, err)
	}
	c.Status = BoundStatus(c, bound)
	if err := r.client.Status().Update(ctx, c); err != nil {
		return fmt.Errorf("marking claim %s bound: %w", req(claim), err)
	}
	return nil
}

// syncBound completes or checks a claim that names its volume.
func (r *claimReconciler) syncBound(ctx context.Context, claim *corev1.PersistentVolumeClaim) error {
	var pv corev1.PersistentVolume
	err := r.client.Get(ctx, types.NamespacedName{Name: claim.Spec.VolumeName}, &pv)
	if apierrors.IsNotFound(err) {
		if claim.Status.Phase == corev1.ClaimBound {
			claim.Status.Phase = corev1.ClaimLost
			r.recorder.Event(claim, corev1.EventTypeWarning, ReasonClaimLost, MessageClaimLostVolume)
			return r.client.Status().Update(ctx, claim)
		}
		return r.setPending(ctx, claim)
	}
	if err != nil {
		return err
	}
	if pv.Spec.ClaimRef != nil && !volumehelpers.IsVolumeBoundToClaim(&pv, claim) {
		// The volume belongs to another claim: wait for it to be released.
		return r.setPending(ctx, claim)
	}
	if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != claim.UID ||
		claim.Annotations[volumehelpers.AnnBindCompleted] == "" || claim.Status.Phase != corev1.ClaimBound {
		return r.bind(ctx, claim, &pv)
	}
	return nil
}

func req(c *corev1.PersistentVolumeClaim) string { return c.Namespace + "/" + c.Name }

// Reconcile keeps a volume's phase in line with its claim and reclaims it.
func (r *volumeReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var pv corev1.PersistentVolume
	if err := r.client.Get(ctx, req.NamespacedName, &pv); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if pv.DeletionTimestamp != nil {
		return reconcile.Result{}, nil
	}
	var claim *corev1.PersistentVolumeClaim
	if ref := pv.Spec.ClaimRef; ref != nil && ref.UID != "" {
		var c corev1.PersistentVolumeClaim
		// Read the API, not the cache: releasing a volume because a claim
		// seemed gone from a stale cache would be wrong.
		err := r.api.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &c)
		switch {
		case err == nil:
			claim = &c
		case !apierrors.IsNotFound(err):
			return reconcile.Result{}, err
		}
	}
	phase := pv.Status.Phase
	switch VolumeNext(&pv, claim) {
	case VolumeOK:
		return reconcile.Result{}, nil
	case VolumeAvailable:
		phase = corev1.VolumeAvailable
	case VolumeBound:
		phase = corev1.VolumeBound
	case VolumeReleased:
		phase = corev1.VolumeReleased
	case VolumeDelete:
		log.FromContext(ctx).Info("deleting released volume", "volume", pv.Name)
		return reconcile.Result{}, client.IgnoreNotFound(r.client.Delete(ctx, &pv))
	}
	pv.Status.Phase = phase
	if err := r.client.Status().Update(ctx, &pv); err != nil {
		return reconcile.Result{}, fmt.Errorf("setting volume %s phase %s: %w", pv.Name, phase, err)
	}
	return reconcile.Result{}, nil
}
