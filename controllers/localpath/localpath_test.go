package localpath_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestClaimGetsALocalVolumeWhereItsPodRuns follows a StatefulSet-style
// claim of the default class: scheduler, provisioner and binder together.
func TestClaimGetsALocalVolumeWhereItsPodRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	var sc storagev1.StorageClass
	eventually(t, ctx, "default StorageClass", func() error {
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: "local-path"}, &sc); err != nil {
			return err
		}
		if sc.Annotations["storageclass.kubernetes.io/is-default-class"] != "true" {
			return fmt.Errorf("annotations %v", sc.Annotations)
		}
		return nil
	})

	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker", Labels: map[string]string{corev1.LabelHostname: "worker"}}}
	if err := k8sClient.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	node.Spec.Taints = nil // the node lifecycle controller's job once Ready
	if err := k8sClient.Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	node.Status = corev1.NodeStatus{
		Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("110")},
		Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
	}
	if err := k8sClient.Status().Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "default"}},
		// No class named: the API server's DefaultStorageClass admission
		// picks local-path.
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "data-db-0"}, Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db-0"}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "db", Image: "busybox:1.36"}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data-db-0"}}}},
		}},
	} {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
	eventually(t, ctx, "claim bound to a volume on worker, pod on worker", func() error {
		var c corev1.PersistentVolumeClaim
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "data-db-0"}, &c); err != nil {
			return err
		}
		if c.Status.Phase != corev1.ClaimBound || c.Spec.VolumeName == "" {
			return fmt.Errorf("claim phase %s volume %q class %v annotations %v", c.Status.Phase, c.Spec.VolumeName, c.Spec.StorageClassName, c.Annotations)
		}
		var pv corev1.PersistentVolume
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: c.Spec.VolumeName}, &pv); err != nil {
			return err
		}
		if pv.Spec.HostPath == nil || pv.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values[0] != "worker" || pv.Status.Phase != corev1.VolumeBound {
			return fmt.Errorf("volume %+v phase %s", pv.Spec.PersistentVolumeSource, pv.Status.Phase)
		}
		var p corev1.Pod
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "db-0"}, &p); err != nil {
			return err
		}
		if p.Spec.NodeName != "worker" {
			return fmt.Errorf("pod on %q", p.Spec.NodeName)
		}
		return nil
	})
}
