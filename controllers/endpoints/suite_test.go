package endpoints_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kubeseed/kubeseed/controllers/endpoints"
	"github.com/kubeseed/kubeseed/controllers/manager"
	"github.com/kubeseed/kubeseed/test/testenv"
)

var k8sClient client.Client

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctrl.SetLogger(logr.Discard())
	env, err := testenv.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "endpoints suite:", err)
		return 1
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "endpoints suite: starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	scheme, err := manager.Scheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "endpoints suite: manager:", err)
		return 1
	}
	if err := endpoints.SetupWithManager(mgr); err != nil {
		fmt.Fprintln(os.Stderr, "endpoints suite: setup:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	if k8sClient, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// eventually retries check every 100ms until it returns nil or ctx ends.
func eventually(t *testing.T, ctx context.Context, what string, check func() error) {
	t.Helper()
	var err error
	for {
		if err = check(); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func setup(t *testing.T, ctx context.Context, ns string) {
	t.Helper()
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default"}},
	} {
		if err := k8sClient.Create(ctx, obj); err != nil {
			t.Fatalf("create %s: %v", obj.GetName(), err)
		}
	}
	// Pods on a node the API does not know are left out, as upstream does.
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-" + ns}}
	if err := k8sClient.Create(ctx, node); err != nil {
		t.Fatalf("create node: %v", err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), node) })
}

// runPod creates a pod on the test's node and gives it the IP and readiness
// a kubelet would report.
func runPod(t *testing.T, ctx context.Context, ns, name, ip string, ready bool, port int32) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{NodeName: "node-" + ns, Containers: []corev1.Container{{
			Name: "app", Image: "busybox:1.36",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: port}},
		}}},
	}
	if err := k8sClient.Create(ctx, p); err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	setReady(t, ctx, p, ip, ready)
	return p
}

func setReady(t *testing.T, ctx context.Context, p *corev1.Pod, ip string, ready bool) {
	t.Helper()
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p.Status.Phase = corev1.PodRunning
	p.Status.PodIP = ip
	p.Status.PodIPs = []corev1.PodIP{{IP: ip}}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now()}}
	if err := k8sClient.Status().Update(ctx, p); err != nil {
		t.Fatalf("set pod %s status: %v", p.Name, err)
	}
}

func service(ns, name string, mods ...func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}},
		},
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

// sliceEndpoints collects the endpoints of all slices of a service by pod name.
func sliceEndpoints(ctx context.Context, ns, svc string) (map[string]discoveryv1.Endpoint, []discoveryv1.EndpointSlice, error) {
	var list discoveryv1.EndpointSliceList
	if err := k8sClient.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{discoveryv1.LabelServiceName: svc}); err != nil {
		return nil, nil, err
	}
	out := map[string]discoveryv1.Endpoint{}
	for _, s := range list.Items {
		for _, e := range s.Endpoints {
			out[e.TargetRef.Name] = e
		}
	}
	return out, list.Items, nil
}
