//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/kubeseed/kubeseed/test/testenv"
)

// BenchmarkUp measures what a newcomer waits for (issue 8): from `kubeseed
// up` to the node Ready, then to a 3-replica Deployment Available, then to
// its Service's name answering from a pod; and the process's RSS then. The
// baseline, measured in the same run, is upstream kube-apiserver and etcd
// alone (envtest) becoming ready: start-ratio compares the whole cluster's
// start with just upstream's control plane.
func BenchmarkUp(b *testing.B) {
	env, err := testenv.Upstream()
	if err != nil {
		b.Fatal(err)
	}
	var baseline, ready, available, answered time.Duration
	var rss int64
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := env.Start(); err != nil {
			b.Fatalf("upstream envtest: %v", err)
		}
		baseline += time.Since(t0)
		_ = env.Stop()

		c := startCluster(b)
		ready += c.readyAfter
		a, s, err := deployAndAsk(c)
		if err != nil {
			b.Fatalf("%v\n%s", err, c.logTail())
		}
		available += a
		answered += s
		rss += testenv.RSS(c.up.cmd.Process.Pid)
		c.teardown()
	}
	n := time.Duration(b.N)
	b.ReportMetric((ready / n).Seconds(), "s-to-node-ready")
	b.ReportMetric((available / n).Seconds(), "s-to-deploy-available")
	b.ReportMetric((answered / n).Seconds(), "s-to-service-answers")
	b.ReportMetric((baseline / n).Seconds(), "s-upstream-apiserver-ready")
	b.ReportMetric(float64(ready)/float64(baseline), "start-ratio")
	b.ReportMetric(float64(rss)/float64(b.N)/(1<<20), "MiB-rss")
}

// deployAndAsk creates a 3-replica echo Deployment and its Service, waits for
// it to be Available, then runs a busybox pod asking the Service by name.
// Both durations count from the Deployment's creation.
func deployAndAsk(c *cluster) (available, answered time.Duration, err error) {
	rc, err := clientcmd.BuildConfigFromFlags("", c.kubeconfig)
	if err != nil {
		return 0, 0, err
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	labels := map[string]string{"app": "bench"}
	start := time.Now()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "echo", Image: "kubeseed/echo:latest",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}}},
			},
		},
	}
	if _, err := client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return 0, 0, err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "bench"},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return 0, 0, err
	}
	err = wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		d, err := client.AppsV1().Deployments("default").Get(ctx, "bench", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		for _, cond := range d.Status.Conditions {
			if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue && d.Status.AvailableReplicas == 3 {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("deployment not Available: %w", err)
	}
	available = time.Since(start)
	// The pod retries until the Service answers, as a client starting
	// alongside its backend would.
	asker := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "bench-asker"},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "ask", Image: "busybox",
			Command: []string{"sh", "-c", "for i in $(seq 200); do wget -qO- http://bench/ && exit 0; sleep 0.05; done; exit 1"}}}},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, asker, metav1.CreateOptions{}); err != nil {
		return 0, 0, err
	}
	var phase corev1.PodPhase
	err = wait.PollUntilContextCancel(ctx, 20*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods("default").Get(ctx, "bench-asker", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed, nil
	})
	if err != nil || phase != corev1.PodSucceeded {
		return 0, 0, fmt.Errorf("service by name: pod %s (%v)", phase, err)
	}
	return available, time.Since(start), nil
}
