package scheduler

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func localVolume(name, node, class string) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:         corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: class,
			VolumeMode:       new(corev1.PersistentVolumeFilesystem),
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}}}},
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeAvailable},
	}
}

func testClaim(name, class string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: "uid-" + "name"},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: &class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			VolumeMode:       new(corev1.PersistentVolumeFilesystem),
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}
}

func TestVolumeFilter(t *testing.T) {
	a, b := node("a", "1", "1Gi"), node("b", "1", "1Gi")
	claim := testClaim("data", "local")
	tests := []struct {
		name       string
		vols       *PodVolumes
		wantA      []string
		wantB      []string
		wantPlanOn *corev1.PersistentVolume
	}{
		{"bound volume pins the node", &PodVolumes{Bound: []*corev1.PersistentVolume{localVolume("pv", "b", "local")}}, []string{ReasonVolumeNodeConflict}, nil, nil},
		{"bound volume missing", &PodVolumes{MissingVolume: true}, []string{ReasonVolumeMissing}, []string{ReasonVolumeMissing}, nil},
		{"delayed claim follows its only local volume", &PodVolumes{Delayed: []DelayedClaim{
			NewDelayedClaim(claim, noProvisioner, []*corev1.PersistentVolume{localVolume("pv-b", "b", "local"), localVolume("pv-other-class", "a", "fast")}),
		}}, []string{ReasonVolumeBindConflict}, nil, localVolume("pv-b", "b", "local")},
		{"delayed claim provisioned anywhere", &PodVolumes{Delayed: []DelayedClaim{NewDelayedClaim(claim, "kubeseed.io/local-path", nil)}}, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.vols.filter(a); !reflect.DeepEqual(got, tt.wantA) {
				t.Errorf("node a: %q, want %q", got, tt.wantA)
			}
			if got := tt.vols.filter(b); !reflect.DeepEqual(got, tt.wantB) {
				t.Errorf("node b: %q, want %q", got, tt.wantB)
			}
			if tt.wantPlanOn != nil {
				plan, ok := tt.vols.Plan(b)
				if !ok || plan[claim] == nil || plan[claim].Name != tt.wantPlanOn.Name {
					t.Errorf("plan on b: %v %v, want %s", plan, ok, tt.wantPlanOn.Name)
				}
			}
		})
	}
}
