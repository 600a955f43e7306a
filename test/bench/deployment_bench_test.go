package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
)

// BenchmarkDeploymentsVsUpstream runs the same Deployment workload (issue 4:
// 200 Deployments of 5 replicas; KUBESEED_BENCH_DEPLOYMENTS and
// KUBESEED_BENCH_REPLICAS to change) with upstream kube-controller-manager
// (--controllers=deployment,replicaset) and with kubeseed's "deployment" and
// "replicaset" controllers, one after the other against one upstream
// kube-apiserver, each in its own namespace with the other's objects removed.
// Two phases, each timed from the first API request of the burst (the
// controllers already running and synced) to the last object done:
//
//   - create: every Deployment created until each one's ReplicaSet has created
//     all its pods (status.replicas == spec.replicas). No kubelet: pods stay
//     pending and are only counted.
//   - rollout: with every pod Ready, every Deployment's image changed until
//     each reports all replicas updated and available and no old pods
//     (kubectl rollout status's test). A stand-in kubelet (playKubelet, the
//     same for both) binds the new pods and marks them Ready, and finishes the
//     deletion of the old ones.
//
// It reports pods created per second and rollouts finished per second for
// each, and ours as ratios to upstream's (higher is better).
func BenchmarkDeploymentsVsUpstream(b *testing.B) {
	deployments, replicas := benchSize("KUBESEED_BENCH_DEPLOYMENTS", 200), benchSize("KUBESEED_BENCH_REPLICAS", 5)
	cb, stop := startControllerBench(b)
	defer stop()
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		var results [2]deploymentResult
		for s, side := range cb.sides(b, "deployment,replicaset", "deployment", "replicaset") {
			r, err := cb.runDeployments(ctx, fmt.Sprintf("deploy-%s-%d", side.name, i), deployments, int32(replicas), side.start)
			if err != nil {
				b.Fatalf("%s: %v", side.name, err)
			}
			results[s] = r
		}
		up, ours := results[0], results[1]
		pods := float64(deployments * replicas)
		b.ReportMetric(pods/up.create.Seconds(), "upstream-pods/s")
		b.ReportMetric(pods/ours.create.Seconds(), "kubeseed-pods/s")
		b.ReportMetric(up.create.Seconds()/ours.create.Seconds(), "ratio-create")
		b.ReportMetric(float64(deployments)/up.rollout.Seconds(), "upstream-rollouts/s")
		b.ReportMetric(float64(deployments)/ours.rollout.Seconds(), "kubeseed-rollouts/s")
		b.ReportMetric(up.rollout.Seconds()/ours.rollout.Seconds(), "ratio-rollout")
		b.Logf("%d deployments x %d replicas: create upstream %.2fs, kubeseed %.2fs (%.2fx); rollout upstream %.2fs, kubeseed %.2fs (%.2fx)",
			deployments, replicas, up.create.Seconds(), ours.create.Seconds(), up.create.Seconds()/ours.create.Seconds(),
			up.rollout.Seconds(), ours.rollout.Seconds(), up.rollout.Seconds()/ours.rollout.Seconds())
	}
}

type deploymentResult struct {
	create, rollout time.Duration
}

// runDeployments runs both phases in a fresh namespace ns with the
// controllers start starts, then removes every object it made.
func (cb *controllerBench) runDeployments(ctx context.Context, ns string, n int, replicas int32, start func(context.Context) (func(), error)) (deploymentResult, error) {
	var r deploymentResult
	if err := cb.createNamespace(ctx, ns); err != nil {
		return r, err
	}
	apps := cb.cs.AppsV1()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop, err := start(cctx)
	if err != nil {
		return r, err
	}
	defer stop()

	// Warm up: a Deployment whose pod exists proves both controllers are
	// running with synced caches, so the timing leaves start-up out.
	if _, err := apps.Deployments(ns).Create(ctx, benchDeployment("warmup", 1, "busybox"), metav1.CreateOptions{}); err != nil {
		return r, err
	}
	err = poll(ctx, 2*time.Minute, "the warm-up deployment's pod", func() (bool, error) {
		pods, err := cb.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=warmup"})
		return err == nil && len(pods.Items) == 1, err
	})
	if err != nil {
		return r, err
	}
	timeout := time.Duration(n*int(replicas))*20*time.Millisecond + 2*time.Minute

	// Create: N Deployments until each ReplicaSet has all its pods.
	list, err := apps.ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return r, err
	}
	w, err := watchFrom(ctx, list.ResourceVersion, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return apps.ReplicaSets(ns).Watch(ctx, o)
	})
	if err != nil {
		return r, err
	}
	defer w.Stop()
	began := time.Now()
	err = parallel(n, 32, func(i int) error {
		_, err := apps.Deployments(ns).Create(ctx, benchDeployment(fmt.Sprintf("d-%04d", i), replicas, "busybox"), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return r, err
	}
	full := map[string]bool{} // deployment name -> its ReplicaSet has every pod
	err = waitFor(w, timeout, func(ev watch.Event) bool {
		rs, ok := ev.Object.(*appsv1.ReplicaSet)
		if !ok || ev.Type == watch.Deleted {
			return false
		}
		owner := metav1.GetControllerOf(rs)
		if owner == nil || owner.Name == "warmup" {
			return false
		}
		if ptr.Deref(rs.Spec.Replicas, 0) == replicas && rs.Status.Replicas == replicas {
			full[owner.Name] = true
		}
		return len(full) == n
	}, func() string { return fmt.Sprintf("%d of %d replicasets full", len(full), n) })
	if err != nil {
		return r, fmt.Errorf("create: %w", err)
	}
	r.create = time.Since(began)
	w.Stop()

	// Untimed: every pod Ready and every Deployment available.
	kctx, kcancel := context.WithCancel(ctx)
	defer kcancel()
	if err := cb.playKubelet(kctx, ns); err != nil {
		return r, err
	}
	err = poll(ctx, timeout, "every deployment available", func() (bool, error) {
		ds, err := apps.Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for i := range ds.Items {
			if !rolledOut(&ds.Items[i]) {
				return false, nil
			}
		}
		return len(ds.Items) == n+1, nil
	})
	if err != nil {
		return r, err
	}

	// Rollout: a new image for every Deployment until each has rolled out.
	dlist, err := apps.Deployments(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return r, err
	}
	dw, err := watchFrom(ctx, dlist.ResourceVersion, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return apps.Deployments(ns).Watch(ctx, o)
	})
	if err != nil {
		return r, err
	}
	defer dw.Stop()
	patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"busybox:new"}]}}}}`)
	began = time.Now()
	err = parallel(n, 32, func(i int) error {
		_, err := apps.Deployments(ns).Patch(ctx, fmt.Sprintf("d-%04d", i), types.StrategicMergePatchType, patch, metav1.PatchOptions{})
		return err
	})
	if err != nil {
		return r, err
	}
	done := map[string]bool{}
	err = waitFor(dw, timeout, func(ev watch.Event) bool {
		d, ok := ev.Object.(*appsv1.Deployment)
		if !ok || ev.Type == watch.Deleted || d.Name == "warmup" {
			return false
		}
		if d.Spec.Template.Spec.Containers[0].Image == "busybox:new" && rolledOut(d) {
			done[d.Name] = true
		}
		return len(done) == n
	}, func() string { return fmt.Sprintf("%d of %d deployments rolled out", len(done), n) })
	if err != nil {
		return r, fmt.Errorf("rollout: %w", err)
	}
	r.rollout = time.Since(began)
	if err := checkRolledOut(ctx, cb, ns, n, replicas); err != nil {
		return r, err
	}

	stop()
	kcancel()
	return r, deleteAll(ctx, apps.Deployments(ns).DeleteCollection, apps.ReplicaSets(ns).DeleteCollection, cb.cs.CoreV1().Pods(ns).DeleteCollection)
}

// rolledOut is kubectl rollout status's test: the controller saw the latest
// spec, and every replica is updated and available with no old ones left.
func rolledOut(d *appsv1.Deployment) bool {
	want := ptr.Deref(d.Spec.Replicas, 1)
	return d.Status.ObservedGeneration >= d.Generation && d.Status.UpdatedReplicas == want &&
		d.Status.Replicas == want && d.Status.AvailableReplicas == want
}

// checkRolledOut confirms, after the timed phase, that each Deployment has one
// ReplicaSet with every replica of the new image and its old one scaled to 0.
func checkRolledOut(ctx context.Context, cb *controllerBench, ns string, n int, replicas int32) error {
	rss, err := cb.cs.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	current := map[string]int{}
	for _, rs := range rss.Items {
		owner := metav1.GetControllerOf(&rs)
		if owner == nil || owner.Name == "warmup" {
			continue
		}
		spec := ptr.Deref(rs.Spec.Replicas, 0)
		switch {
		case rs.Spec.Template.Spec.Containers[0].Image == "busybox:new" && spec == replicas && rs.Status.Replicas == replicas:
			current[owner.Name]++
		case rs.Spec.Template.Spec.Containers[0].Image != "busybox:new" && spec == 0:
		default:
			return fmt.Errorf("rollout: replicaset %s (%s) has %d of %d replicas", rs.Name, rs.Spec.Template.Spec.Containers[0].Image, rs.Status.Replicas, spec)
		}
	}
	for i := range n {
		if name := fmt.Sprintf("d-%04d", i); current[name] != 1 {
			return fmt.Errorf("rollout: deployment %s has %d full replicasets of the new image", name, current[name])
		}
	}
	return nil
}

func benchDeployment(name string, replicas int32, image string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: image}}},
			},
		},
	}
}
