package scheduler_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kubeseed/kubeseed/controllers/manager"
	"github.com/kubeseed/kubeseed/controllers/scheduler"
	"github.com/kubeseed/kubeseed/test/testenv"
)

// k8sClient talks to the upstream kube-apiserver the scheduler runs against.
var k8sClient client.Client

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctrl.SetLogger(logr.Discard())
	env, err := testenv.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scheduler suite:", err)
		return 1
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "scheduler suite: starting envtest:", err)
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
		fmt.Fprintln(os.Stderr, "scheduler suite: manager:", err)
		return 1
	}
	if err := scheduler.SetupWithManager(mgr); err != nil {
		fmt.Fprintln(os.Stderr, "scheduler suite: setup:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	k8sClient = mgr.GetClient()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		fmt.Fprintln(os.Stderr, "scheduler suite: cache did not sync")
		return 1
	}
	// The manager's client reads from its cache; tests want the API server.
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// makeNode creates a Ready node with the given allocatable cpu and memory and
// deletes it when the test ends.
func makeNode(t *testing.T, ctx context.Context, name, cpu string, mods ...func(*corev1.Node)) *corev1.Node {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	for _, m := range mods {
		m(n)
	}
	status, taints := n.Status, n.Spec.Taints
	if err := k8sClient.Create(ctx, n); err != nil {
		t.Fatalf("create node %s: %v", name, err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), n) })
	// kube-apiserver's TaintNodesByCondition admission gives every new node
	// the not-ready taint, which the node lifecycle controller lifts once the
	// node is Ready; this suite runs the scheduler alone, so it lifts it here.
	n.Spec.Taints = taints
	if err := k8sClient.Update(ctx, n); err != nil {
		t.Fatalf("set node %s taints: %v", name, err)
	}
	n.Status = status
	n.Status.Allocatable = corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(cpu),
		corev1.ResourceMemory: resource.MustParse("8Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	n.Status.Capacity = n.Status.Allocatable
	if len(n.Status.Conditions) == 0 {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	}
	if err := k8sClient.Status().Update(ctx, n); err != nil {
		t.Fatalf("set node %s status: %v", name, err)
	}
	return n
}

// makeNamespace creates a namespace whose pods are deleted when the test ends,
// so no pending pod of one test lands on the next test's nodes.
func makeNamespace(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	if err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "default"}}
	_ = k8sClient.Create(ctx, sa)
	t.Cleanup(func() {
		_ = k8sClient.DeleteAllOf(context.Background(), &corev1.Pod{}, client.InNamespace(name), client.GracePeriodSeconds(0))
	})
	return name
}

func makePod(t *testing.T, ctx context.Context, ns, name, cpu string, mods ...func(*corev1.Pod)) *corev1.Pod {
	t.Helper()
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "app", Image: "busybox:1.36",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}},
		}}},
	}
	for _, m := range mods {
		m(p)
	}
	if err := k8sClient.Create(ctx, p); err != nil {
		t.Fatalf("create pod %s: %v", name, err)
	}
	return p
}

// waitBound polls the API server until the pod has a node, and returns it.
func waitBound(t *testing.T, ctx context.Context, p *corev1.Pod) string {
	t.Helper()
	var got corev1.Pod
	for {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(p), &got); err == nil && got.Spec.NodeName != "" {
			return got.Spec.NodeName
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pod %s was not bound: %v (conditions %+v)", p.Name, ctx.Err(), got.Status.Conditions)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// findEvent waits for an events.k8s.io Event about the pod with the reason.
// findEvent waits for an event of reason about p.
func findEvent(t *testing.T, ctx context.Context, p *corev1.Pod, reason string) eventsv1.Event {
	t.Helper()
	for {
		var list eventsv1.EventList
		if err := k8sClient.List(ctx, &list, client.InNamespace(p.Namespace)); err == nil {
			for _, e := range list.Items {
				if e.Regarding.Name == p.Name && e.Reason == reason {
					return e
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no %s event for pod %s", reason, p.Name)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitUnschedulable waits until p's PodScheduled condition is False with the
// message want. The scheduler tries a pod again when a node, pod, claim or
// volume changes, so a first attempt that ran before the test had finished
// setting up (a node still bearing the not-ready taint kube-apiserver's
// admission adds, a claim not yet in the scheduler's cache) is followed by
// one with the final answer. The condition holds the latest answer; the
// FailedScheduling event keeps the first one's note and counts the others in
// its series, as upstream's does.
func waitUnschedulable(t *testing.T, ctx context.Context, p *corev1.Pod, want string) corev1.Pod {
	t.Helper()
	var got corev1.Pod
	for {
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(p), &got); err != nil {
			t.Fatal(err)
		}
		for _, c := range got.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable && c.Message == want {
				return got
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pod %s: no PodScheduled=False Unschedulable %q: %+v", p.Name, want, got.Status.Conditions)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
