package deployment_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// BenchmarkDeploymentsAvailable measures issue 4's workload: 100
// Deployments of 10 replicas each, from creation until every one reports
// Available, with the test's stand-in kubelet making pods ready. Run with
// `go test -run '^$' -bench DeploymentsAvailable -benchtime 1x ./controllers/deployment/`.
func BenchmarkDeploymentsAvailable(b *testing.B) {
	const deployments, replicas = 100, 10
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		ns := fmt.Sprintf("bench-%d-%d", time.Now().UnixNano()%100000, i)
		if err := suite.Client.Create(ctx, namespace(ns)); err != nil {
			b.Fatal(err)
		}
		suite.PlayKubelet(ctx, ns)
		start := time.Now()
		for d := 0; d < deployments; d++ {
			dep := newDeployment(ns, replicas, "busybox:1.35")
			dep.Name = fmt.Sprintf("echo-%03d", d)
			dep.Spec.Selector.MatchLabels = map[string]string{"app": dep.Name}
			dep.Spec.Template.Labels = map[string]string{"app": dep.Name}
			if err := suite.Client.Create(ctx, dep); err != nil {
				b.Fatal(err)
			}
		}
		for {
			var list appsv1.DeploymentList
			if err := suite.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
				b.Fatal(err)
			}
			ready := 0
			for _, d := range list.Items {
				if d.Status.AvailableReplicas == replicas && d.Status.UpdatedReplicas == replicas && d.Status.ObservedGeneration == d.Generation {
					ready++
				}
			}
			if ready == deployments {
				break
			}
			if ctx.Err() != nil {
				b.Fatalf("only %d of %d deployments available after 5 minutes", ready, deployments)
			}
			time.Sleep(100 * time.Millisecond)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s-to-available")
		cancel()
	}
}

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}
