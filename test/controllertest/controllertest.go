// Package controllertest is the plumbing of the controllers' envtest suites:
// it starts the API server test/testenv names (upstream kube-apiserver, or
// kubeseed's with KUBESEED_TEST_APISERVER=kubeseed), runs the named
// kubeseed controllers against it in one manager, and plays the kubelet's part
// for pod status (Running and Ready) until a node agent runs in the tests.
package controllertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeseed/kubeseed/controllers/manager"
	"github.com/kubeseed/kubeseed/test/testenv"
)

// Suite is a running API server with controllers.
type Suite struct {
	Client     client.Client
	RestConfig *rest.Config
	// KubectlConfig is a kubeconfig file for stock kubectl as cluster admin.
	KubectlConfig string
	// Kubectl is the kubectl binary built with the test binaries.
	Kubectl string
}

// Run starts the API server and the named controllers, runs the tests and
// tears everything down; use it from TestMain as os.Exit(controllertest.Run(m, &suite, "replicaset")).
func Run(m *testing.M, s *Suite, controllers ...string) int {
	env, err := testenv.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "suite:", err)
		return 1
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "suite: starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	scheme, err := manager.Scheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s.RestConfig = cfg
	s.Client, err = client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		fmt.Fprintln(os.Stderr, "suite: client:", err)
		return 1
	}
	if s.KubectlConfig, err = env.AdminKubeconfig(); err != nil {
		fmt.Fprintln(os.Stderr, "suite: kubeconfig:", err)
		return 1
	}
	if dir, derr := testenv.AssetsDir(); derr == nil {
		s.Kubectl = dir + "/kubectl"
	}
	mgr, err := manager.New(manager.Config{RestConfig: cfg, Controllers: controllers})
	if err != nil {
		fmt.Fprintln(os.Stderr, "suite: manager:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Run(ctx) }()
	code := m.Run()
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		fmt.Fprintln(os.Stderr, "suite: controllers did not stop")
	}
	return code
}

// Namespace creates a fresh namespace named after the test.
func (s *Suite) Namespace(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: name + "-"}}
	if err := s.Client.Create(context.Background(), ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	return ns.Name
}

// Eventually polls cond every 100ms until it returns true or timeout passes,
// then fails the test with the last message cond gave.
func Eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var msg string
	for {
		var ok bool
		ok, msg = cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// MarkReady does what a kubelet does for a started pod: binds it to node if it
// has none, sets phase Running and a True Ready condition.
func (s *Suite) MarkReady(ctx context.Context, pod *corev1.Pod, nodeName string) error {
	if pod.Spec.NodeName == "" && nodeName != "" {
		b := &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name},
			Target:     corev1.ObjectReference{Kind: "Node", Name: nodeName},
		}
		if err := s.Client.SubResource("binding").Create(ctx, pod, b); err != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("binding %s: %w", pod.Name, err)
		}
	}
	p := &corev1.Pod{}
	if err := s.Client.Get(ctx, client.ObjectKeyFromObject(pod), p); err != nil {
		return fmt.Errorf("getting %s: %w", pod.Name, err)
	}
	now := metav1.Now()
	p.Status.Phase = corev1.PodRunning
	p.Status.StartTime = &now
	p.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	if err := s.Client.Status().Update(ctx, p); err != nil {
		return fmt.Errorf("marking %s ready: %w", pod.Name, err)
	}
	return nil
}

// MarkAllReady marks every live, not yet ready pod of the namespace ready and
// returns how many it marked.
func (s *Suite) MarkAllReady(ctx context.Context, namespace string) (int, error) {
	var pods corev1.PodList
	if err := s.Client.List(ctx, &pods, client.InNamespace(namespace)); err != nil {
		return 0, err
	}
	n := 0
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || isReady(p) {
			continue
		}
		if err := s.MarkReady(ctx, p, ""); err != nil {
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				continue
			}
			return n, err
		}
		n++
	}
	return n, nil
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// PlayKubelet does, until ctx ends, what a scheduler and a node agent would
// for the pods of namespace: binds new pods (to the node their required node
// affinity names, as for daemon pods, else "node-1"), marks them Running and
// Ready, and finishes the deletion of terminating pods. It polls every 50ms.
func (s *Suite) PlayKubelet(ctx context.Context, namespace string) {
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var pods corev1.PodList
			if err := s.Client.List(ctx, &pods, client.InNamespace(namespace)); err != nil {
				continue
			}
			// Like a node's pod workers, handle pods in parallel (bounded).
			sem := make(chan struct{}, 16)
			var wg sync.WaitGroup
			for i := range pods.Items {
				p := &pods.Items[i]
				if p.DeletionTimestamp == nil && isReady(p) {
					continue
				}
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer func() { <-sem; wg.Done() }()
					if p.DeletionTimestamp != nil {
						_ = s.Client.Delete(ctx, p, client.GracePeriodSeconds(0), client.Preconditions{UID: &p.UID})
						return
					}
					_ = s.MarkReady(ctx, p, nodeFor(p))
				}()
			}
			wg.Wait()
		}
	}()
}

// RunKubectl runs the suite's kubectl against the API server and returns its
// combined output.
func (s *Suite) RunKubectl(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.Kubectl, append([]string{"--kubeconfig", s.KubectlConfig}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// nodeFor is the node a pod's required node affinity pins it to by name, or
// "node-1".
func nodeFor(p *corev1.Pod) string {
	if p.Spec.NodeName != "" {
		return p.Spec.NodeName
	}
	if a := p.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for _, f := range term.MatchFields {
				if f.Key == "metadata.name" && len(f.Values) == 1 {
					return f.Values[0]
				}
			}
		}
	}
	return "node-1"
}
