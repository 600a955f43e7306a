package apiserver_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// causes returns the field paths of a 422's causes.
func causes(t *testing.T, err error) []string {
	t.Helper()
	if !apierrors.IsInvalid(err) {
		t.Fatalf("err = %v, want 422 Invalid", err)
	}
	var out []string
	for _, c := range err.(apierrors.APIStatus).Status().Details.Causes {
		out = append(out, c.Field)
	}
	return out
}

func hasCause(t *testing.T, err error, field string) {
	t.Helper()
	for _, f := range causes(t, err) {
		if f == field {
			return
		}
	}
	t.Errorf("err = %v, want a cause on %s", err, field)
}

func TestStorageClassDefaultsValidationImmutability(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	classes := s.client.StorageV1().StorageClasses()
	created, err := classes.Create(ctx, &storagev1.StorageClass{
		ObjectMeta:  metav1.ObjectMeta{Name: "fast"},
		Provisioner: "example.com/fast",
		Parameters:  map[string]string{"tier": "ssd"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(created.ReclaimPolicy, "") != corev1.PersistentVolumeReclaimDelete ||
		ptr.Deref(created.VolumeBindingMode, "") != storagev1.VolumeBindingImmediate {
		t.Errorf("not defaulted: reclaimPolicy %v volumeBindingMode %v", created.ReclaimPolicy, created.VolumeBindingMode)
	}
	got, err := classes.Get(ctx, "fast", metav1.GetOptions{})
	if err != nil || got.UID != created.UID || got.Namespace != "" {
		t.Fatalf("get: %+v %v", got, err)
	}
	list, err := classes.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range list.Items {
		found = found || c.Name == "fast"
	}
	if !found {
		t.Errorf("list lacks fast: %v", list.Items)
	}

	for _, tc := range []struct {
		name  string
		class storagev1.StorageClass
		field string
	}{
		{"no provisioner", storagev1.StorageClass{}, "provisioner"},
		{"bad provisioner", storagev1.StorageClass{Provisioner: "not a/qualified/name"}, "provisioner"},
		{"bad reclaim policy", storagev1.StorageClass{Provisioner: "p", ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimRecycle)}, "reclaimPolicy"},
		{"bad binding mode", storagev1.StorageClass{Provisioner: "p", VolumeBindingMode: ptr.To(storagev1.VolumeBindingMode("Later"))}, "volumeBindingMode"},
		{"empty parameter key", storagev1.StorageClass{Provisioner: "p", Parameters: map[string]string{"": "x"}}, "parameters"},
		{"bad name", storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "Not_Valid"}, Provisioner: "p"}, "metadata.name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.class.Name == "" {
				tc.class.Name = "invalid"
			}
			_, err := classes.Create(ctx, &tc.class, metav1.CreateOptions{})
			hasCause(t, err, tc.field)
		})
	}

	for field, mutate := range map[string]func(*storagev1.StorageClass){
		"provisioner":   func(c *storagev1.StorageClass) { c.Provisioner = "example.com/slow" },
		"parameters":    func(c *storagev1.StorageClass) { c.Parameters["tier"] = "hdd" },
		"reclaimPolicy": func(c *storagev1.StorageClass) { c.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimRetain) },
		"volumeBindingMode": func(c *storagev1.StorageClass) {
			c.VolumeBindingMode = ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)
		},
	} {
		c := got.DeepCopy()
		mutate(c)
		_, err := classes.Update(ctx, c, metav1.UpdateOptions{})
		if got := causes(t, err); len(got) != 1 || got[0] != field {
			t.Errorf("changing %s: causes %v, want [%s]", field, got, field)
		}
	}
	// What is not fixed may change.
	c := got.DeepCopy()
	c.AllowVolumeExpansion = ptr.To(true)
	c.Annotations = map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}
	if _, err := classes.Update(ctx, c, metav1.UpdateOptions{}); err != nil {
		t.Errorf("mutable update: %v", err)
	}
	if err := classes.Delete(ctx, "fast", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestCSIObjectsAndVolumeAttachmentStatus(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	st := s.client.StorageV1()
	d, err := st.CSIDrivers().Create(ctx, &storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: "csi.example.com"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !ptr.Deref(d.Spec.AttachRequired, false) || ptr.Deref(d.Spec.PodInfoOnMount, true) ||
		ptr.Deref(d.Spec.FSGroupPolicy, "") != storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy ||
		len(d.Spec.VolumeLifecycleModes) != 1 || d.Spec.VolumeLifecycleModes[0] != storagev1.VolumeLifecyclePersistent {
		t.Errorf("CSIDriver not defaulted: %+v", d.Spec)
	}
	d.Spec.AttachRequired = ptr.To(false)
	_, err = st.CSIDrivers().Update(ctx, d, metav1.UpdateOptions{})
	hasCause(t, err, "spec.attachedRequired")

	_, err = st.CSINodes().Create(ctx, &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: "node-a"},
		Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{Name: "csi.example.com"}}}}, metav1.CreateOptions{})
	hasCause(t, err, "spec.drivers[0].nodeID")
	if _, err := st.CSINodes().Create(ctx, &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: "node-a"},
		Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{Name: "csi.example.com", NodeID: "a"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	vas := st.VolumeAttachments()
	_, err = vas.Create(ctx, &storagev1.VolumeAttachment{ObjectMeta: metav1.ObjectMeta{Name: "va-bad"},
		Spec: storagev1.VolumeAttachmentSpec{Attacher: "csi.example.com", NodeName: "node-a"}}, metav1.CreateOptions{})
	hasCause(t, err, "spec.source")
	va, err := vas.Create(ctx, &storagev1.VolumeAttachment{ObjectMeta: metav1.ObjectMeta{Name: "va"},
		Spec: storagev1.VolumeAttachmentSpec{Attacher: "csi.example.com", NodeName: "node-a",
			Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: ptr.To("pv-1")}},
		Status: storagev1.VolumeAttachmentStatus{Attached: true}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if va.Status.Attached {
		t.Error("status set on create")
	}
	va.Status.Attached = true
	va.Spec.NodeName = "node-b"
	upd, err := vas.UpdateStatus(ctx, va, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !upd.Status.Attached || upd.Spec.NodeName != "node-a" {
		t.Errorf("status update: attached %v node %s", upd.Status.Attached, upd.Spec.NodeName)
	}
	upd.Spec.NodeName = "node-b"
	_, err = vas.Update(ctx, upd, metav1.UpdateOptions{})
	hasCause(t, err, "spec")
}

// TestClaimsGetTheDefaultStorageClass: a claim that names no class gets the
// default one (the newest, when several are marked; other tests on the
// shared server mark older ones), one that names "" keeps no class, as
// upstream's DefaultStorageClass admission does.
func TestClaimsGetTheDefaultStorageClass(t *testing.T) {
	for name, cp := range controlPlanes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			c := kubernetes.NewForConfigOrDie(cp.config)
			claim := func(name string, class *string) *corev1.PersistentVolumeClaim {
				pvc, err := c.CoreV1().PersistentVolumeClaims("default").Create(ctx, &corev1.PersistentVolumeClaim{
					ObjectMeta: metav1.ObjectMeta{Name: name},
					Spec: corev1.PersistentVolumeClaimSpec{
						StorageClassName: class,
						AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
						Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
					},
				}, metav1.CreateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					_ = c.CoreV1().PersistentVolumeClaims("default").Delete(context.Background(), name, metav1.DeleteOptions{})
				})
				return pvc
			}
			for i, sc := range []string{"older-default", "newer-default"} {
				if i > 0 {
					time.Sleep(1100 * time.Millisecond) // creation timestamps have second resolution
				}
				_, err := c.StorageV1().StorageClasses().Create(ctx, &storagev1.StorageClass{
					ObjectMeta:  metav1.ObjectMeta{Name: sc, Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
					Provisioner: "example.com/" + sc,
				}, metav1.CreateOptions{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = c.StorageV1().StorageClasses().Delete(context.Background(), sc, metav1.DeleteOptions{}) })
			}
			if got := ptr.Deref(claim("defaulted", nil).Spec.StorageClassName, "<nil>"); got != "newer-default" {
				t.Errorf("storageClassName = %q, want newer-default", got)
			}
			if got := ptr.Deref(claim("explicitly-none", ptr.To("")).Spec.StorageClassName, "<nil>"); got != "" {
				t.Errorf(`storageClassName "" became %q`, got)
			}
		})
	}
}
