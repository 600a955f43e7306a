package manager

import (
	"context"
	"os"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/kubeseed/kubeseed/test/testenv"
)

// TestControllersNeedNoMoreThanTheirRole runs every controller against
// upstream kube-apiserver (RBAC enforced) as a user holding only the
// ClusterRole `make manifests` generates in config/rbac: what a user who
// deploys `kubeseed controllers` next to a real cluster gets. A missing
// permission shows as a controller that never acts.
func TestControllersNeedNoMoreThanTheirRole(t *testing.T) {
	if os.Getenv(testenv.APIServerEnv) == "kubeseed" {
		t.Skip("creates users through envtest's control plane, which only the upstream pass has (runs there)")
	}
	env, err := testenv.Upstream()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme, _ := Scheme()
	c, err := client.New(admin, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	raw, err := os.ReadFile("../../config/rbac/role.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := yaml.Unmarshal(raw, &role); err != nil {
		t.Fatalf("config/rbac/role.yaml: %v", err)
	}
	if err := c.Create(ctx, &role); err != nil {
		t.Fatal(err)
	}
	const user = "kubeseed-controllers"
	if err := c.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
	}); err != nil {
		t.Fatal(err)
	}
	u, err := env.AddUser(envtest.User{Name: user}, nil)
	if err != nil {
		t.Fatal(err)
	}

	m, err := New(Config{RestConfig: u.Config()})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	waitForCluster(t, ctx, "default service account and root CA", func() bool {
		return c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "default"}, &corev1.ServiceAccount{}) == nil &&
			c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "kube-root-ca.crt"}, &corev1.ConfigMap{}) == nil
	})
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "worker"}}
	if err := c.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	node.Status = corev1.NodeStatus{
		Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("110")},
		Conditions:  []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now}},
	}
	if err := c.Status().Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "web"}
	if err := c.Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "busybox"}}}}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: 80}}},
	}); err != nil {
		t.Fatal(err)
	}
	waitForCluster(t, ctx, "deployment's pods created and scheduled", func() bool {
		var pods corev1.PodList
		if c.List(ctx, &pods, client.InNamespace("shop")) != nil || len(pods.Items) != 2 {
			return false
		}
		for _, p := range pods.Items {
			if p.Spec.NodeName != "worker" {
				return false
			}
		}
		return true
	})
	waitForCluster(t, ctx, "service's endpoint slice", func() bool {
		var slices discoveryv1.EndpointSliceList
		return c.List(ctx, &slices, client.InNamespace("shop"), client.MatchingLabels{discoveryv1.LabelServiceName: "web"}) == nil && len(slices.Items) == 1
	})
}
