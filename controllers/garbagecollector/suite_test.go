package garbagecollector_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeseed/kubeseed/test/controllertest"
)

var suite controllertest.Suite

func TestMain(m *testing.M) {
	os.Exit(controllertest.Run(m, &suite, "replicaset", "deployment", "garbagecollector"))
}

func newDeployment(ns string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": "echo"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "echo"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "echo", Image: "busybox:1.35"}}},
			},
		},
	}
}

// counts returns how many replicasets and pods (terminating included) ns holds.
func counts(ctx context.Context, ns string) (int, int, int) {
	var sets appsv1.ReplicaSetList
	var pods corev1.PodList
	_ = suite.Client.List(ctx, &sets, client.InNamespace(ns))
	_ = suite.Client.List(ctx, &pods, client.InNamespace(ns))
	terminating := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			terminating++
		}
	}
	return len(sets.Items), len(pods.Items), terminating
}

func waitRunning(ctx context.Context, t *testing.T, ns string, pods int) {
	t.Helper()
	controllertest.Eventually(t, 30*time.Second, "deployment running", func() (bool, string) {
		s, p, _ := counts(ctx, ns)
		return s == 1 && p == pods, fmt.Sprintf("%d sets, %d pods", s, p)
	})
}

func TestKubectlDeleteDeploymentRemovesReplicaSetsAndPods(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	suite.PlayKubelet(ctx, ns)
	if err := suite.Client.Create(ctx, newDeployment(ns, 3)); err != nil {
		t.Fatal(err)
	}
	waitRunning(ctx, t, ns, 3)
	if out, err := suite.RunKubectl(ctx, "-n", ns, "delete", "deployment", "echo", "--wait=false"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	controllertest.Eventually(t, 30*time.Second, "replicasets and pods collected", func() (bool, string) {
		s, p, _ := counts(ctx, ns)
		return s == 0 && p == 0, fmt.Sprintf("%d sets, %d pods left", s, p)
	})
}

func TestForegroundDeletionWaitsForDependents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	d := newDeployment(ns, 2)
	if err := suite.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitRunning(ctx, t, ns, 2)
	// Bound pods are deleted gracefully (unbound ones at once), as on a node.
	var pods corev1.PodList
	if err := suite.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		if err := suite.MarkReady(ctx, &pods.Items[i], "node-1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := suite.Client.Delete(ctx, d, client.PropagationPolicy(metav1.DeletePropagationForeground)); err != nil {
		t.Fatal(err)
	}
	// No kubelet finishes the pods yet: they stay terminating, so the
	// replicaset and the deployment must wait for them.
	controllertest.Eventually(t, 20*time.Second, "pods terminating", func() (bool, string) {
		_, p, term := counts(ctx, ns)
		return p == 2 && term == 2, fmt.Sprintf("%d pods, %d terminating", p, term)
	})
	time.Sleep(time.Second)
	var got appsv1.Deployment
	if err := suite.Client.Get(ctx, client.ObjectKeyFromObject(d), &got); err != nil {
		t.Fatalf("deployment went before its pods: %v", err)
	}
	if got.DeletionTimestamp == nil || len(got.Finalizers) != 1 || got.Finalizers[0] != metav1.FinalizerDeleteDependents {
		t.Errorf("deployment should wait with the foregroundDeletion finalizer: %v", got.Finalizers)
	}
	if s, _, _ := counts(ctx, ns); s != 1 {
		t.Errorf("replicaset went before its pods: %d sets", s)
	}

	suite.PlayKubelet(ctx, ns) // now the pods finish
	controllertest.Eventually(t, 30*time.Second, "everything gone", func() (bool, string) {
		err := suite.Client.Get(ctx, client.ObjectKeyFromObject(d), &got)
		s, p, _ := counts(ctx, ns)
		return apierrors.IsNotFound(err) && s == 0 && p == 0, fmt.Sprintf("deployment err=%v, %d sets, %d pods", err, s, p)
	})
}

func TestOrphanDeletionKeepsPods(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	suite.PlayKubelet(ctx, ns)
	d := newDeployment(ns, 2)
	if err := suite.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitRunning(ctx, t, ns, 2)
	if out, err := suite.RunKubectl(ctx, "-n", ns, "delete", "deployment", "echo", "--cascade=orphan"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	controllertest.Eventually(t, 30*time.Second, "deployment gone, replicaset orphaned", func() (bool, string) {
		var sets appsv1.ReplicaSetList
		_ = suite.Client.List(ctx, &sets, client.InNamespace(ns))
		err := suite.Client.Get(ctx, client.ObjectKeyFromObject(d), &appsv1.Deployment{})
		return apierrors.IsNotFound(err) && len(sets.Items) == 1 && len(sets.Items[0].OwnerReferences) == 0,
			fmt.Sprintf("deployment err=%v, sets %d", err, len(sets.Items))
	})
	time.Sleep(500 * time.Millisecond)
	if _, p, _ := counts(ctx, ns); p != 2 {
		t.Errorf("%d pods after orphaning, want 2", p)
	}
}

// Any served resource is collected, not only workloads.
func TestCollectsAnyResource(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "owner"}}
	if err := suite.Client.Create(ctx, owner); err != nil {
		t.Fatal(err)
	}
	dep := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dependent", OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: owner.UID,
	}}}}
	if err := suite.Client.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	// A dependent whose owner never existed (wrong uid) is collected too.
	stray := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stray", OwnerReferences: []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "ConfigMap", Name: owner.Name, UID: "00000000-0000-0000-0000-000000000000",
	}}}}
	if err := suite.Client.Create(ctx, stray); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 15*time.Second, "stray secret collected", func() (bool, string) {
		err := suite.Client.Get(ctx, client.ObjectKeyFromObject(stray), &corev1.Secret{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if err := suite.Client.Get(ctx, client.ObjectKeyFromObject(dep), &corev1.Secret{}); err != nil {
		t.Fatalf("dependent of a live owner was touched: %v", err)
	}
	if err := suite.Client.Delete(ctx, owner); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 15*time.Second, "dependent secret collected", func() (bool, string) {
		err := suite.Client.Get(ctx, client.ObjectKeyFromObject(dep), &corev1.Secret{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
}
