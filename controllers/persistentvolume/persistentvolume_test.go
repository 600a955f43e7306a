package persistentvolume_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func makeVolume(t *testing.T, ctx context.Context, name, size string, policy corev1.PersistentVolumeReclaimPolicy) *corev1.PersistentVolume {
	t.Helper()
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: policy,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/kubeseed/volumes/" + name}},
		},
	}
	if err := k8sClient.Create(ctx, pv); err != nil {
		t.Fatalf("create volume %s: %v", name, err)
	}
	return pv
}

func makeClaim(t *testing.T, ctx context.Context, ns, name, size string, class *string) *corev1.PersistentVolumeClaim {
	t.Helper()
	c := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
			StorageClassName: class,
		},
	}
	if err := k8sClient.Create(ctx, c); err != nil {
		t.Fatalf("create claim %s: %v", name, err)
	}
	return c
}

func claimEvent(ctx context.Context, c *corev1.PersistentVolumeClaim, reason string) (string, error) {
	var list corev1.EventList
	if err := k8sClient.List(ctx, &list, client.InNamespace(c.Namespace)); err != nil {
		return "", err
	}
	for _, e := range list.Items {
		if e.InvolvedObject.Name == c.Name && e.Reason == reason {
			return e.Message, nil
		}
	}
	return "", fmt.Errorf("no %s event for claim %s", reason, c.Name)
}

func TestClaimsBindReleaseAndReclaim(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const ns = "storage"
	if err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	makeVolume(t, ctx, "pv-1g", "1Gi", corev1.PersistentVolumeReclaimRetain)
	makeVolume(t, ctx, "pv-5g", "5Gi", corev1.PersistentVolumeReclaimRetain)
	makeVolume(t, ctx, "pv-10g", "10Gi", corev1.PersistentVolumeReclaimRetain)
	// As a user would, wait until the volumes are Available: a claim made
	// before the binder has seen a volume may rightly bind a bigger one.
	eventually(t, ctx, "volumes available", func() error {
		for _, name := range []string{"pv-1g", "pv-5g", "pv-10g"} {
			var pv corev1.PersistentVolume
			if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, &pv); err != nil {
				return err
			}
			if pv.Status.Phase != corev1.VolumeAvailable {
				return fmt.Errorf("%s phase %q", name, pv.Status.Phase)
			}
		}
		return nil
	})

	// The smallest volume that fits is bound, both ways.
	data := makeClaim(t, ctx, ns, "data", "3Gi", nil)
	eventually(t, ctx, "claim bound to pv-5g", func() error {
		var c corev1.PersistentVolumeClaim
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(data), &c); err != nil {
			return err
		}
		if c.Spec.VolumeName != "pv-5g" || c.Status.Phase != corev1.ClaimBound || c.Status.Capacity.Storage().String() != "5Gi" ||
			c.Annotations["pv.kubernetes.io/bind-completed"] != "yes" {
			return fmt.Errorf("claim volume %q phase %s capacity %v annotations %v", c.Spec.VolumeName, c.Status.Phase, c.Status.Capacity, c.Annotations)
		}
		var pv corev1.PersistentVolume
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: "pv-5g"}, &pv); err != nil {
			return err
		}
		if pv.Status.Phase != corev1.VolumeBound || pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != c.UID ||
			pv.Annotations["pv.kubernetes.io/bound-by-controller"] != "yes" {
			return fmt.Errorf("volume phase %s claimRef %+v", pv.Status.Phase, pv.Spec.ClaimRef)
		}
		return nil
	})

	// Too big for any volume: pending, with upstream's event, until one appears.
	huge := makeClaim(t, ctx, ns, "huge", "50Gi", nil)
	eventually(t, ctx, "huge claim pending with FailedBinding", func() error {
		msg, err := claimEvent(ctx, huge, "FailedBinding")
		if err != nil {
			return err
		}
		if msg != "no persistent volumes available for this claim and no storage class is set" {
			return fmt.Errorf("event %q", msg)
		}
		return nil
	})
	makeVolume(t, ctx, "pv-100g", "100Gi", corev1.PersistentVolumeReclaimDelete)
	eventually(t, ctx, "huge claim bound once a volume appears", func() error {
		var c corev1.PersistentVolumeClaim
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(huge), &c); err != nil {
			return err
		}
		if c.Spec.VolumeName != "pv-100g" || c.Status.Phase != corev1.ClaimBound {
			return fmt.Errorf("claim volume %q phase %s", c.Spec.VolumeName, c.Status.Phase)
		}
		return nil
	})

	// Deleting the claims: Retain keeps the volume Released, Delete removes it.
	for _, c := range []*corev1.PersistentVolumeClaim{data, huge} {
		if err := k8sClient.Delete(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, ctx, "pv-5g released and pv-100g deleted", func() error {
		var pv corev1.PersistentVolume
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: "pv-5g"}, &pv); err != nil {
			return err
		}
		if pv.Status.Phase != corev1.VolumeReleased {
			return fmt.Errorf("pv-5g phase %s", pv.Status.Phase)
		}
		err := k8sClient.Get(ctx, client.ObjectKey{Name: "pv-100g"}, &pv)
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("pv-100g: %v, phase %s", err, pv.Status.Phase)
		}
		return nil
	})
}

func TestWaitForFirstConsumerClaimIsLeftPending(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const ns = "wffc"
	if err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	mode := storagev1.VolumeBindingWaitForFirstConsumer
	if err := k8sClient.Create(ctx, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local"},
		Provisioner: "kubernetes.io/no-provisioner", VolumeBindingMode: &mode}); err != nil {
		t.Fatal(err)
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "local-1"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName:              "local",
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/local-1"}},
		},
	}
	if err := k8sClient.Create(ctx, pv); err != nil {
		t.Fatal(err)
	}
	c := makeClaim(t, ctx, ns, "later", "1Gi", new("local"))
	eventually(t, ctx, "WaitForFirstConsumer event", func() error {
		msg, err := claimEvent(ctx, c, "WaitForFirstConsumer")
		if err != nil {
			return err
		}
		if msg != "waiting for first consumer to be created before binding" {
			return fmt.Errorf("event %q", msg)
		}
		return nil
	})
	var got corev1.PersistentVolumeClaim
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(c), &got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.VolumeName != "" || got.Status.Phase != corev1.ClaimPending {
		t.Errorf("WaitForFirstConsumer claim bound to %q (phase %s) before any pod", got.Spec.VolumeName, got.Status.Phase)
	}
}
