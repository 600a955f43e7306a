package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeseed/kubeseed/controllers/manager"
	"github.com/kubeseed/kubeseed/test/controllertest"
	"github.com/kubeseed/kubeseed/test/testenv"
)

// benchQPS is the client rate limit both controller managers get, high enough
// that the API server, not a client throttle, is the bound both meet.
const benchQPS = 5000

// controllerBench is one upstream API server that a benchmark runs upstream
// kube-controller-manager and kubeseed's controllers against in turn.
type controllerBench struct {
	cfg        *rest.Config // admin, at benchQPS
	cs         kubernetes.Interface
	client     client.Client
	kubeconfig string
	kcm        string // upstream kube-controller-manager binary
}

// startControllerBench starts the API server; stop it with the returned func.
func startControllerBench(b *testing.B) (*controllerBench, func()) {
	b.Helper()
	dir, err := testenv.AssetsDir()
	if err != nil {
		b.Fatal(err)
	}
	kcm := filepath.Join(dir, "kube-controller-manager")
	if _, err := os.Stat(kcm); err != nil {
		b.Fatalf("no upstream kube-controller-manager in %s: run `make bench` "+
			`(ENVTEST_EXTRA="kube-scheduler kube-controller-manager" hack/setup-envtest.sh)`, dir)
	}
	ctrl.SetLogger(logr.Discard())
	env, err := testenv.New()
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		b.Fatal(err)
	}
	stop := func() { _ = env.Stop() }
	kubeconfig, err := env.AdminKubeconfig()
	if err != nil {
		stop()
		b.Fatal(err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = benchQPS, benchQPS
	scheme, err := manager.Scheme()
	if err != nil {
		stop()
		b.Fatal(err)
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		stop()
		b.Fatal(err)
	}
	return &controllerBench{cfg: cfg, cs: kubernetes.NewForConfigOrDie(cfg), client: cl, kubeconfig: kubeconfig, kcm: kcm}, stop
}

// side is one of the two controller managers a benchmark compares.
type side struct {
	name string
	// start starts the controllers; stop may be called more than once.
	start func(ctx context.Context) (stop func(), err error)
}

// sides are upstream kube-controller-manager running upstreamControllers and
// kubeseed's manager running ours, in the order the benchmarks run them.
func (cb *controllerBench) sides(b *testing.B, upstreamControllers string, ours ...string) []side {
	return []side{
		{name: "upstream", start: func(ctx context.Context) (func(), error) {
			return cb.runUpstreamKCM(ctx, b.TempDir(), upstreamControllers)
		}},
		{name: "kubeseed", start: func(ctx context.Context) (func(), error) {
			return runOurControllers(ctx, cb.cfg, ours...)
		}},
	}
}

// runUpstreamKCM starts kube-controller-manager with only the named
// controllers, no leader election and no serving port, and their other
// settings (concurrent syncs, batch periods) at upstream's defaults; only the
// client rate limit is raised, to the same benchQPS as ours.
func (cb *controllerBench) runUpstreamKCM(ctx context.Context, dir, controllers string) (func(), error) {
	cmd := exec.CommandContext(ctx, cb.kcm,
		"--kubeconfig", cb.kubeconfig,
		"--controllers", controllers,
		"--leader-elect=false",
		"--secure-port=0",
		"--use-service-account-credentials=false",
		fmt.Sprintf("--kube-api-qps=%d", benchQPS),
		fmt.Sprintf("--kube-api-burst=%d", benchQPS),
		"-v=0")
	log, err := os.Create(filepath.Join(dir, "kube-controller-manager.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return nil, err
	}
	return sync.OnceFunc(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); _ = log.Close() }), nil
}

// runOurControllers starts the named kubeseed controllers in one manager.
func runOurControllers(ctx context.Context, cfg *rest.Config, names ...string) (func(), error) {
	mgr, err := manager.New(manager.Config{RestConfig: cfg, Controllers: names})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Run(ctx) }()
	return sync.OnceFunc(func() { cancel(); <-done }), nil
}

// createNamespace creates the namespace a run's objects live in.
func (cb *controllerBench) createNamespace(ctx context.Context, ns string) error {
	_, err := cb.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	return err
}

// watchFrom watches from resourceVersion on, resuming where a dropped watch
// stopped: a burst of thousands of events can outrun a plain watch on a
// loaded machine.
func watchFrom(ctx context.Context, resourceVersion string, w func(context.Context, metav1.ListOptions) (watch.Interface, error)) (watch.Interface, error) {
	return watchtools.NewRetryWatcherWithContext(ctx, resourceVersion, &cache.ListWatch{WatchFuncWithContext: w})
}

// waitFor reads events from w, giving each to seen, until seen says the
// wanted state is reached or timeout passes; progress describes how far it
// got for the timeout error.
func waitFor(w watch.Interface, timeout time.Duration, seen func(watch.Event) bool, progress func() string) error {
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return errors.New("watch closed: " + progress())
			}
			if ev.Type == watch.Error {
				return fmt.Errorf("watch error %v: %s", apierrors.FromObject(ev.Object), progress())
			}
			if seen(ev) {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("timed out after %v: %s", timeout, progress())
		}
	}
}

// poll calls cond every 100ms until it returns true, fails, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// playKubelet does, until ctx ends, what a scheduler and node agent would for
// the pods of ns, as controllertest's PlayKubelet does (binds new pods to
// node-1 and marks them Running and Ready with the same MarkReady, finishes
// the deletion of terminating pods), but from a watch rather than a 50ms
// poll, so that listing thousands of pods does not load the API server both
// controller managers share. It handles 16 pods at a time.
func (cb *controllerBench) playKubelet(ctx context.Context, ns string) error {
	list, err := cb.cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	w, err := watchFrom(ctx, list.ResourceVersion, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return cb.cs.CoreV1().Pods(ns).Watch(ctx, o)
	})
	if err != nil {
		return err
	}
	suite := &controllertest.Suite{Client: cb.client}
	work := make(chan *corev1.Pod, 1024)
	var mu sync.Mutex
	handled := map[types.UID]string{} // what was done to the pod: "ready" or "deleted"
	offer := func(p *corev1.Pod) {
		want := "ready"
		switch {
		case p.DeletionTimestamp != nil:
			want = "deleted"
		case podReady(p):
			return
		}
		mu.Lock()
		done := handled[p.UID] == want
		handled[p.UID] = want
		mu.Unlock()
		if !done {
			work <- p
		}
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				if p.DeletionTimestamp != nil {
					_ = cb.client.Delete(ctx, p, client.GracePeriodSeconds(0), client.Preconditions{UID: &p.UID})
					continue
				}
				// A pod a controller changed in between conflicts: read it again.
				for range 5 {
					if err := suite.MarkReady(ctx, p, "node-1"); err == nil || apierrors.IsNotFound(err) || ctx.Err() != nil {
						break
					}
				}
			}
		}()
	}
	go func() {
		defer func() { w.Stop(); close(work); wg.Wait() }()
		for i := range list.Items {
			offer(&list.Items[i])
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				if p, isPod := ev.Object.(*corev1.Pod); isPod && ev.Type != watch.Deleted {
					offer(p)
				}
			}
		}
	}()
	return nil
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// deleteAll removes every object of a run, so the next controller manager
// starts from the same state: there is no garbage collector or namespace
// controller here, so each kind goes explicitly, pods at once (no kubelet).
func deleteAll(ctx context.Context, deletes ...func(context.Context, metav1.DeleteOptions, metav1.ListOptions) error) error {
	zero := int64(0)
	var errs []string
	for _, del := range deletes {
		if err := del(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{}); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
