package localpath

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
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=get;create
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get;list;watch;create
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Options configures the provisioner.
type Options struct {
	// Dir is where volumes live on every node; empty means DefaultDir.
	Dir string
	// NoDefaultClass leaves creating the StorageClass to someone else.
	NoDefaultClass bool
}

// Reconciler provisions one claim.
type Reconciler struct {
	client   client.Client
	recorder record.EventRecorder
	dir      string
}

// SetupWithManager adds the provisioner with the default directory and class.
func SetupWithManager(mgr ctrl.Manager) error {
	return Setup(mgr, Options{})
}

// Setup adds the provisioner to mgr and, unless told not to, makes sure the
// default StorageClass exists once the manager runs.
func Setup(mgr ctrl.Manager, opts Options) error {
	if opts.Dir == "" {
		opts.Dir = DefaultDir
	}
	r := &Reconciler{client: mgr.GetClient(), recorder: mgr.GetEventRecorderFor(Provisioner), dir: opts.Dir}
	if !opts.NoDefaultClass {
		c := mgr.GetClient()
		if err := mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
			// Created once; an administrator's later changes to it are kept.
			if err := c.Create(ctx, Class()); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("creating the %s StorageClass: %w", ClassName, err)
			}
			return nil
		})); err != nil {
			return err
		}
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("localpath").
		For(&corev1.PersistentVolumeClaim{}).
		Complete(r)
}

// Reconcile creates the volume of a claim whose node has been chosen.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var claim corev1.PersistentVolumeClaim
	if err := r.client.Get(ctx, req.NamespacedName, &claim); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	className := volumehelpers.GetPersistentVolumeClaimClass(&claim)
	if className == "" || claim.Spec.VolumeName != "" {
		return reconcile.Result{}, nil
	}
	var class storagev1.StorageClass
	if err := r.client.Get(ctx, types.NamespacedName{Name: className}, &class); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !NeedsVolume(&claim, &class) {
		return reconcile.Result{}, nil
	}
	var node corev1.Node
	if err := r.client.Get(ctx, types.NamespacedName{Name: claim.Annotations[volumehelpers.AnnSelectedNode]}, &node); err != nil {
		return reconcile.Result{}, fmt.Errorf("reading the selected node of claim %s: %w", req, err)
	}
	pv := Volume(&claim, &class, &node, r.dir)
	r.recorder.Eventf(&claim, corev1.EventTypeNormal, "Provisioning", "External provisioner is provisioning volume for claim %q", req.String())
	if err := r.client.Create(ctx, pv); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return reconcile.Result{}, nil
		}
		r.recorder.Eventf(&claim, corev1.EventTypeWarning, "ProvisioningFailed", "failed to provision volume with StorageClass %q: %v", className, err)
		return reconcile.Result{}, fmt.Errorf("creating volume for claim %s: %w", req, err)
	}
	log.FromContext(ctx).Info("provisioned", "claim", req.String(), "volume", pv.Name, "node", node.Name)
	r.recorder.Eventf(&claim, corev1.EventTypeNormal, "ProvisioningSucceeded", "Successfully provisioned volume %s", pv.Name)
	return reconcile.Result{}, nil
}
