package scheduler_test

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

func localPV(name, node, class string) *corev1.PersistentVolume {
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName:              class,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var/lib/kubeseed/" + name}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}}}},
		},
	}
}

func withClaim(claim string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}
	}
}

func TestPodsFollowTheirVolumes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	ns := makeNamespace(t, ctx, "volumes")
	for _, n := range []string{"vol-a", "vol-b", "vol-c"} {
		makeNode(t, ctx, n, "4")
	}
	wffc := storagev1.VolumeBindingWaitForFirstConsumer
	for _, sc := range []*storagev1.StorageClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "local"}, Provisioner: "kubernetes.io/no-provisioner", VolumeBindingMode: &wffc},
		{ObjectMeta: metav1.ObjectMeta{Name: "local-path"}, Provisioner: "kubeseed.io/local-path", VolumeBindingMode: &wffc},
	} {
		if err := k8sClient.Create(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(name, class string) {
		c := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: corev1.PersistentVolumeClaimSpec{
				StorageClassName: &class,
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}
		if err := k8sClient.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}

	// A local volume on vol-b, waiting for its first consumer: the pod goes
	// where the volume is, and the volume is pre-bound to the claim.
	pv := localPV("local-b", "vol-b", "local")
	if err := k8sClient.Create(ctx, pv); err != nil {
		t.Fatal(err)
	}
	pv.Status.Phase = corev1.VolumeAvailable // the persistentvolume controller's job
	if err := k8sClient.Status().Update(ctx, pv); err != nil {
		t.Fatal(err)
	}
	claim("static", "local")
	if got := waitBound(t, ctx, makePod(t, ctx, ns, "db", "100m", withClaim("static"))); got != "vol-b" {
		t.Errorf("pod with a local volume on vol-b went to %s", got)
	}
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(pv), pv); err != nil {
		t.Fatal(err)
	}
	if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.Name != "static" || pv.Annotations["pv.kubernetes.io/bound-by-controller"] != "yes" {
		t.Errorf("volume claimRef %+v annotations %v: want pre-bound to the claim", pv.Spec.ClaimRef, pv.Annotations)
	}

	// A class with a provisioner: the chosen node is handed to it.
	claim("dynamic", "local-path")
	node := waitBound(t, ctx, makePod(t, ctx, ns, "cache", "100m", withClaim("dynamic")))
	var c corev1.PersistentVolumeClaim
	if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "dynamic"}, &c); err != nil {
		t.Fatal(err)
	}
	if got := c.Annotations["volume.kubernetes.io/selected-node"]; got != node {
		t.Errorf("claim selected-node %q, want the pod's node %s", got, node)
	}

	// An unbound claim of a class that binds at once blocks the pod everywhere.
	claim("immediate", "")
	p := makePod(t, ctx, ns, "early", "100m", withClaim("immediate"))
	waitUnschedulable(t, ctx, p, "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.")
	missing := makePod(t, ctx, ns, "orphan", "100m", withClaim("nope"))
	waitUnschedulable(t, ctx, missing, fmt.Sprintf("0/3 nodes are available: persistentvolumeclaim %q not found.", "nope"))
}
