package localpath

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestVolume(t *testing.T) {
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "data-db-0", UID: "1234",
			Annotations: map[string]string{"volume.kubernetes.io/selected-node": "worker"}},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: new(ClassName),
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")}},
		},
	}
	class := Class()
	if !NeedsVolume(claim, class) {
		t.Fatal("claim with a selected node does not need a volume")
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker", Labels: map[string]string{corev1.LabelHostname: "worker-host"}}}
	pv := Volume(claim, class, node, "/srv")
	if pv.Name != "pvc-1234" || pv.Spec.HostPath.Path != "/srv/pvc-1234_shop_data-db-0" || *pv.Spec.HostPath.Type != corev1.HostPathDirectoryOrCreate {
		t.Errorf("volume %s at %s", pv.Name, pv.Spec.HostPath.Path)
	}
	if pv.Spec.ClaimRef.UID != "1234" || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete ||
		pv.Spec.Capacity.Storage().String() != "2Gi" || pv.Annotations["pv.kubernetes.io/provisioned-by"] != Provisioner {
		t.Errorf("volume spec %+v", pv.Spec)
	}
	if v := pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values[0]; v != "worker-host" {
		t.Errorf("pinned to hostname %q, want worker-host", v)
	}
	delete(claim.Annotations, "volume.kubernetes.io/selected-node")
	if NeedsVolume(claim, class) {
		t.Error("claim without a selected node needs a volume")
	}
}
