package operator_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kubeseed/kubeseed/controllers/manager"
	"github.com/kubeseed/kubeseed/kubelet"
	"github.com/kubeseed/kubeseed/kubelet/runtime/simulated"
	"github.com/kubeseed/kubeseed/test/testenv"
)

// TestEnvtestWithKubeseed is docs/envtest.md as a test: keep the two in step.
func TestEnvtestWithKubeseed(t *testing.T) {
	assets, err := testenv.AssetsDir() // a user's suite finds them with setup-envtest
	if err != nil {
		t.Fatal(err)
	}
	// 1. The operator author's envtest, unchanged.
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// 2. kubeseed's controllers (every one: workloads, scheduler, garbage
	// collector, namespaces, endpoints, ...) against that API server.
	controllers, err := manager.New(manager.Config{RestConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = controllers.Run(ctx) }()

	// 3. A node whose pods run without containers.
	node, err := kubelet.New(kubelet.Config{
		RestConfig: cfg, NodeName: "node-1", Runtime: kubelet.RuntimeSimulated,
		RootDir: t.TempDir(), SimulatedStartDelay: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = node.Run(ctx) }()

	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
			},
		},
	}
	if err := c.Create(ctx, deploy); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Deployment Available with 3 pods on node-1", func() error {
		var d appsv1.Deployment
		if err := c.Get(ctx, client.ObjectKeyFromObject(deploy), &d); err != nil {
			return err
		}
		if d.Status.AvailableReplicas != 3 {
			return fmt.Errorf("available %d of 3", d.Status.AvailableReplicas)
		}
		var pods corev1.PodList
		if err := c.List(ctx, &pods, client.InNamespace("default"), client.MatchingLabels(labels)); err != nil {
			return err
		}
		for _, p := range pods.Items {
			if p.Spec.NodeName != "node-1" || p.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("pod %s on %q is %s", p.Name, p.Spec.NodeName, p.Status.Phase)
			}
		}
		return nil
	})

	// Deleting the owner deletes its ReplicaSets and pods (garbage collector).
	if err := c.Delete(ctx, deploy, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Deployment's ReplicaSets and pods collected", func() error {
		var sets appsv1.ReplicaSetList
		var pods corev1.PodList
		if err := c.List(ctx, &sets, client.InNamespace("default")); err != nil {
			return err
		}
		if err := c.List(ctx, &pods, client.InNamespace("default"), client.MatchingLabels(labels)); err != nil {
			return err
		}
		if n := len(sets.Items) + len(pods.Items); n > 0 {
			return fmt.Errorf("%d ReplicaSets and %d pods left", len(sets.Items), len(pods.Items))
		}
		return nil
	})

	// A Job whose pods exit 0 (the simulated runtime's annotation) completes.
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "once"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{simulated.AnnotationExitCode: "0"}},
			Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "work", Image: "busybox"}}},
		}},
	}
	if err := c.Create(ctx, job); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the Job Complete", func() error {
		var j batchv1.Job
		if err := c.Get(ctx, client.ObjectKeyFromObject(job), &j); err != nil {
			return err
		}
		for _, cond := range j.Status.Conditions {
			if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("status %+v", j.Status)
	})

	// A deleted namespace goes away with its content (namespace controller);
	// on a bare envtest it stays Terminating forever.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "scratch"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "scratch", Name: "settings"}}
	if err := c.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, ns); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the namespace gone", func() error {
		err := c.Get(ctx, client.ObjectKeyFromObject(ns), &corev1.Namespace{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
}

func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
