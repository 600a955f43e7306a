package controllers_test

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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeseed/kubeseed/test/testenv"
)

// k8sClient talks to the upstream kube-apiserver started for this suite.
var k8sClient client.Client

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	env, err := testenv.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "controllers suite:", err)
		return 1
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "controllers suite: starting envtest:", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "controllers suite: stopping envtest:", err)
		}
	}()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, "controllers suite: client:", err)
		return 1
	}
	return m.Run()
}

// TestHarnessStoresNamespaceAndDeployment proves the harness: the API server
// started, accepts a Namespace and a Deployment, defaults the Deployment as
// upstream does and returns both on read.
func TestHarnessStoresNamespaceAndDeployment(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "harness"}}
	if err := k8sClient.Create(ctx, ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	labels := map[string]string{"app": "echo"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "echo"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "echo",
					Image: "kubeseed/echo:latest",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
	if err := k8sClient.Create(ctx, dep); err != nil {
		t.Fatalf("create deployment: %v", err)
	}

	var gotNS corev1.Namespace
	if err := k8sClient.Get(ctx, types.NamespacedName{Name: ns.Name}, &gotNS); err != nil {
		t.Fatalf("get namespace: %v", err)
	}
	if gotNS.Status.Phase != corev1.NamespaceActive {
		t.Errorf("namespace phase = %q, want Active", gotNS.Status.Phase)
	}

	var got appsv1.Deployment
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(dep), &got); err != nil {
		t.Fatalf("get deployment: %v", err)
	}
	if got.UID == "" || got.Generation != 1 {
		t.Errorf("stored deployment should have a uid and generation 1, got uid=%q generation=%d", got.UID, got.Generation)
	}
	if got.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("strategy defaulted to %q, want RollingUpdate", got.Spec.Strategy.Type)
	}
	if p := got.Spec.Template.Spec.Containers[0].ImagePullPolicy; p != corev1.PullAlways {
		t.Errorf("imagePullPolicy for a :latest image defaulted to %q, want Always", p)
	}

	// An invalid object is refused with 422, as kubectl users see it.
	bad := dep.DeepCopy()
	bad.ResourceVersion = ""
	bad.Name = "bad"
	bad.Spec.Template.Labels = map[string]string{"app": "other"}
	err := k8sClient.Create(ctx, bad)
	if !apierrors.IsInvalid(err) {
		t.Errorf("deployment whose selector does not match its template: got %v, want 422 Invalid", err)
	}
}
