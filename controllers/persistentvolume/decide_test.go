package persistentvolume

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func volume(name, size string, mods ...func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			VolumeMode:                    new(corev1.PersistentVolumeFilesystem),
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeAvailable},
	}
	for _, m := range mods {
		m(pv)
	}
	return pv
}

func claim(size string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "data", UID: "claim-1"},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
			VolumeMode:  new(corev1.PersistentVolumeFilesystem),
		},
	}
}

func TestBestVolumePicksSmallestFit(t *testing.T) {
	vols := []*corev1.PersistentVolume{volume("big", "10Gi"), volume("small", "1Gi"), volume("mid", "5Gi"),
		volume("rwx", "4Gi", func(pv *corev1.PersistentVolume) {
			pv.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
		})}
	got, err := BestVolume(claim("3Gi"), vols)
	if err != nil || got == nil || got.Name != "mid" {
		t.Errorf("BestVolume = %v, %v; want mid", got, err)
	}
	if got, _ := BestVolume(claim("20Gi"), vols); got != nil {
		t.Errorf("BestVolume for 20Gi = %s, want none", got.Name)
	}
}

func TestBoundClaim(t *testing.T) {
	c := claim("1Gi")
	pv := volume("v", "2Gi")
	b := BoundClaim(c, pv)
	if b.Spec.VolumeName != "v" || b.Annotations["pv.kubernetes.io/bind-completed"] != "yes" || b.Annotations["pv.kubernetes.io/bound-by-controller"] != "yes" {
		t.Errorf("bound claim %+v %v", b.Spec, b.Annotations)
	}
	s := BoundStatus(b, pv)
	if s.Phase != corev1.ClaimBound || s.Capacity.Storage().String() != "2Gi" {
		t.Errorf("status %+v", s)
	}
}

func TestVolumeNext(t *testing.T) {
	ref := func(uid string) func(*corev1.PersistentVolume) {
		return func(pv *corev1.PersistentVolume) {
			pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "ns", Name: "data", UID: types.UID(uid)}
		}
	}
	phase := func(p corev1.PersistentVolumePhase) func(*corev1.PersistentVolume) {
		return func(pv *corev1.PersistentVolume) { pv.Status.Phase = p }
	}
	deletePolicy := func(pv *corev1.PersistentVolume) {
		pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimDelete
	}
	bound := claim("1Gi")
	bound.Spec.VolumeName = "v"
	tests := []struct {
		name  string
		pv    *corev1.PersistentVolume
		claim *corev1.PersistentVolumeClaim
		want  VolumeAction
	}{
		{"new volume", volume("v", "1Gi", phase(corev1.VolumePending)), nil, VolumeAvailable},
		{"available", volume("v", "1Gi"), nil, VolumeOK},
		{"pre-bound, claim not there", volume("v", "1Gi", ref(""), phase(corev1.VolumePending)), nil, VolumeAvailable},
		{"bound both ways", volume("v", "1Gi", ref("claim-1"), phase(corev1.VolumeAvailable)), bound, VolumeBound},
		{"bound", volume("v", "1Gi", ref("claim-1"), phase(corev1.VolumeBound)), bound, VolumeOK},
		{"claim deleted", volume("v", "1Gi", ref("claim-1"), phase(corev1.VolumeBound)), nil, VolumeReleased},
		{"claim recreated under the same name", volume("v", "1Gi", ref("old-uid"), phase(corev1.VolumeBound)), bound, VolumeReleased},
		{"released, retained", volume("v", "1Gi", ref("claim-1"), phase(corev1.VolumeReleased)), nil, VolumeOK},
		{"released, delete", volume("v", "1Gi", ref("claim-1"), phase(corev1.VolumeReleased), deletePolicy), nil, VolumeDelete},
	}
	for _, tt := range tests {
		if got := VolumeNext(tt.pv, tt.claim); got != tt.want {
			t.Errorf("%s: VolumeNext = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestClaimInUse(t *testing.T) {
	c := claim("1Gi")
	uses := func(phase corev1.PodPhase) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}, Status: corev1.PodStatus{Phase: phase},
			Spec: corev1.PodSpec{Volumes: []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}}}
	}
	if !ClaimInUse(c, []corev1.Pod{uses(corev1.PodRunning)}) {
		t.Error("claim used by a running pod reported free")
	}
	if ClaimInUse(c, []corev1.Pod{uses(corev1.PodSucceeded)}) {
		t.Error("claim used only by a finished pod reported in use")
	}
	if ClaimInUse(c, nil) {
		t.Error("unused claim reported in use")
	}
}
