package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kubeseed/kubeseed/controllers/manager"
	"github.com/kubeseed/kubeseed/test/testenv"
)

// benchSize reads a size from the environment, for a quicker local run.
func benchSize(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkThroughputVsUpstream places the same burst of pending pods
// (issue 5: 10000 pods on 5000 nodes; KUBESEED_BENCH_PODS and
// KUBESEED_BENCH_NODES to change) with upstream kube-scheduler (built by
// `make bench` through hack/setup-envtest.sh) and with kubeseed's scheduler,
// one after the other against one upstream kube-apiserver, and reports pods
// bound per second from the first binding to the last (start-up excluded)
// for each, and ours as a ratio to upstream's (higher is better). Both get
// the same client rate limit (5000 qps) so the API server, not a client
// throttle, is the bound both meet.
func BenchmarkThroughputVsUpstream(b *testing.B) {
	dir, err := testenv.AssetsDir()
	if err != nil {
		b.Fatal(err)
	}
	upstreamBin := filepath.Join(dir, "kube-scheduler")
	if _, err := os.Stat(upstreamBin); err != nil {
		b.Fatalf("no upstream kube-scheduler in %s: run `make bench` (ENVTEST_EXTRA=kube-scheduler hack/setup-envtest.sh)", dir)
	}
	ctrl.SetLogger(logr.Discard())
	nodes, pods := benchSize("KUBESEED_BENCH_NODES", 5000), benchSize("KUBESEED_BENCH_PODS", 10000)
	env, err := testenv.New()
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	kubeconfig, err := env.AdminKubeconfig()
	if err != nil {
		b.Fatal(err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = 5000, 5000
	cs := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	if err := makeNodes(ctx, cs, nodes); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		up, err := placeBurst(ctx, cs, fmt.Sprintf("upstream-%d", i), pods, func(ctx context.Context) (func(), error) {
			return runUpstream(ctx, upstreamBin, kubeconfig, b.TempDir())
		})
		if err != nil {
			b.Fatal(err)
		}
		ours, err := placeBurst(ctx, cs, fmt.Sprintf("kubeseed-%d", i), pods, func(ctx context.Context) (func(), error) {
			return runOurs(ctx, cfg)
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(up, "upstream-pods/s")
		b.ReportMetric(ours, "kubeseed-pods/s")
		b.ReportMetric(ours/up, "ratio-throughput")
		b.Logf("%d pods on %d nodes: upstream kube-scheduler %.0f pods/s, kubeseed %.0f pods/s (%.2fx)", pods, nodes, up, ours, ours/up)
	}
}

func parallel(n, workers int, f func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// makeNodes registers Ready, untainted nodes with room for every pod.
func makeNodes(ctx context.Context, cs kubernetes.Interface, n int) error {
	return parallel(n, 32, func(i int) error {
		capacity := corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("64Gi"),
			corev1.ResourcePods: resource.MustParse("110"),
		}
		node, err := cs.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name: fmt.Sprintf("node-%05d", i), Labels: map[string]string{"kubernetes.io/hostname": fmt.Sprintf("node-%05d", i)},
		}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		// The API server taints a new node not-ready; a node agent's first
		// status clears it, as here.
		node.Spec.Taints = nil
		if node, err = cs.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
			return err
		}
		node.Status.Capacity, node.Status.Allocatable = capacity, capacity
		node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
			LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(), Reason: "KubeletReady"}}
		_, err = cs.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
		return err
	})
}

// placeBurst creates n pending pods in a fresh namespace, starts a scheduler
// and returns the pods bound per second between the first and last binding.
func placeBurst(ctx context.Context, cs kubernetes.Interface, ns string, n int, start func(context.Context) (func(), error)) (float64, error) {
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	err := parallel(n, 32, func(i int) error {
		_, err := cs.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%05d", i)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("10Mi")},
			}}}},
		}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return 0, err
	}
	list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	// A burst of thousands of events can outrun a plain watch on a loaded
	// machine (the server drops slow watchers): resume where it stopped.
	w, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return cs.CoreV1().Pods(ns).Watch(ctx, o)
		},
	})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop, err := start(sctx)
	if err != nil {
		return 0, err
	}
	defer stop()
	bound := map[string]bool{}
	var first, last time.Time
	timeout := time.After(time.Duration(n)*20*time.Millisecond + 2*time.Minute)
	for len(bound) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return 0, errors.New("pod watch closed")
			}
			p, isPod := ev.Object.(*corev1.Pod)
			if !isPod || ev.Type != watch.Modified || p.Spec.NodeName == "" || bound[p.Name] {
				continue
			}
			now := time.Now()
			if first.IsZero() {
				first = now
			}
			last = now
			bound[p.Name] = true
		case <-timeout:
			return 0, fmt.Errorf("%s: %d of %d pods bound before the timeout", ns, len(bound), n)
		}
	}
	// Clear the burst so the next scheduler sees the same nodes.
	zero := int64(0)
	if err := cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{}); err != nil {
		return 0, err
	}
	return float64(n-1) / last.Sub(first).Seconds(), nil
}

// runUpstream starts kube-scheduler with its defaults but for the client
// rate limit and leader election.
func runUpstream(ctx context.Context, bin, kubeconfig, dir string) (func(), error) {
	config := filepath.Join(dir, "scheduler.yaml")
	err := os.WriteFile(config, []byte(`apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: `+kubeconfig+`
  qps: 5000
  burst: 5000
leaderElection:
  leaderElect: false
`), 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, "--config", config, "--bind-address", "127.0.0.1", "--secure-port", "0", "-v", "0")
	log, err := os.Create(filepath.Join(dir, "kube-scheduler.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = log.Close() }, nil
}

// runOurs starts kubeseed's scheduler alone in a controller manager.
func runOurs(ctx context.Context, cfg *rest.Config) (func(), error) {
	mgr, err := manager.New(manager.Config{RestConfig: cfg, Controllers: []string{"scheduler"}})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Run(ctx) }()
	return func() { cancel(); <-done }, nil
}
