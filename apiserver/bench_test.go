package apiserver_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kubeseed/kubeseed/apiserver"
	"github.com/kubeseed/kubeseed/test/testenv"
)

// childEnv, when set, makes the test binary run kubeseed's API server on the
// data dir it names instead of tests: the benchmark measures ours as its own
// process, as upstream's is, so RSS compares like with like.
const childEnv = "KUBESEED_BENCH_APISERVER_DIR"

func init() {
	dir := os.Getenv(childEnv)
	if dir == "" {
		return
	}
	port, _ := strconv.Atoi(os.Getenv(childEnv + "_PORT"))
	s, err := apiserver.New(apiserver.Config{DataDir: dir, SecurePort: port})
	if err == nil {
		err = s.Run(context.Background())
	}
	fmt.Fprintln(os.Stderr, "bench apiserver:", err)
	os.Exit(1)
}

// BenchmarkAPIServer runs one workload against upstream kube-apiserver (with
// etcd, from `make envtest`) and kubeseed's API server (embedded etcd), each
// in its own processes, and reports ours as ratios to upstream's: start to
// ready, create/get/list latency (p50, p99) at fixed concurrency, watch event
// latency, and RSS (API server plus etcd) after 10k objects. Lower is better;
// issue 3's goal is <= 1.0 on latency and <= 0.5 on memory.
func BenchmarkAPIServer(b *testing.B) {
	for i := 0; i < b.N; i++ {
		up, err := benchUpstream(b)
		if err != nil {
			b.Fatal(err)
		}
		ours, err := benchKubeseed(b)
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range []string{"start-s", "create-p50-ms", "create-p99-ms", "get-p50-ms", "get-p99-ms",
			"list-p50-ms", "list-p99-ms", "watch-p50-ms", "watch-p99-ms", "rss-MiB"} {
			b.ReportMetric(ours[m], m)
			if up[m] > 0 {
				b.ReportMetric(ours[m]/up[m], "ratio-"+m)
			}
		}
		b.Logf("upstream: %v", up)
		b.Logf("kubeseed: %v", ours)
	}
}

func benchUpstream(b *testing.B) (map[string]float64, error) {
	env, err := testenv.Upstream()
	if err != nil {
		return nil, err
	}
	// envtest runs etcd with --unsafe-no-fsync; kubeseed's embedded etcd
	// syncs every write to disk, as a user's etcd does, so the baseline
	// must too or create latency compares a disk write with none.
	etcd := &envtest.Etcd{}
	etcd.Configure().Set("unsafe-no-fsync", "false")
	env.ControlPlane.Etcd = etcd
	t0 := time.Now()
	cfg, err := env.Start()
	if err != nil {
		return nil, err
	}
	defer func() { _ = env.Stop() }()
	start := time.Since(t0)
	return workload(cfg, start, func() int64 {
		return childrenRSS(func(cmdline string) bool {
			return strings.Contains(cmdline, "kube-apiserver") || strings.Contains(cmdline, "/etcd")
		})
	})
}

func benchKubeseed(b *testing.B) (map[string]float64, error) {
	dir := b.TempDir()
	port := freePort(b)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir, childEnv+"_PORT="+strconv.Itoa(port))
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var cfg *rest.Config
	for deadline := time.Now().Add(60 * time.Second); ; {
		if time.Now().After(deadline) {
			return nil, errors.New("kubeseed API server not ready after 60s")
		}
		if c, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "admin.kubeconfig")); err == nil {
			if body, err := kubernetes.NewForConfigOrDie(c).Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background()); err == nil && string(body) == "ok" {
				cfg = c
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Since(t0)
	pid := cmd.Process.Pid
	return workload(cfg, start, func() int64 { return testenv.RSS(pid) })
}

// workload is the same sequence of requests for both servers.
func workload(cfg *rest.Config, start time.Duration, memory func() int64) (map[string]float64, error) {
	const (
		concurrency = 8
		objects     = 10000
		gets        = 2000
		lists       = 30
		watches     = 200
	)
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = -1, 0
	c := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	ns := "bench"
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	data := map[string]string{"payload": strings.Repeat("x", 512)}
	create, err := parallel(objects, concurrency, func(i int) error {
		_, err := c.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%05d", i)}, Data: data}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	get, err := parallel(gets, concurrency, func(i int) error {
		_, err := c.CoreV1().ConfigMaps(ns).Get(ctx, fmt.Sprintf("cm-%05d", i*objects/gets), metav1.GetOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	// Pages of 500, as kubectl and informers list.
	list, err := parallel(lists, 2, func(int) error {
		_, err := c.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{Limit: 500})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	w, err := c.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=watched"})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var watchLat []time.Duration
	for i := 0; i < watches; i++ {
		t0 := time.Now()
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "watched"}, Data: map[string]string{"i": strconv.Itoa(i)}}
		var err error
		if i == 0 {
			_, err = c.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
		} else {
			_, err = c.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{})
		}
		if err != nil {
			return nil, fmt.Errorf("watch write: %w", err)
		}
		select {
		case ev := <-w.ResultChan():
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				return nil, fmt.Errorf("watch event %s", ev.Type)
			}
		case <-time.After(10 * time.Second):
			return nil, errors.New("no watch event in 10s")
		}
		watchLat = append(watchLat, time.Since(t0))
	}
	out := map[string]float64{"start-s": start.Seconds(), "rss-MiB": float64(memory()) / (1 << 20)}
	for name, lat := range map[string][]time.Duration{"create": create, "get": get, "list": list, "watch": watchLat} {
		out[name+"-p50-ms"] = ms(percentile(lat, 50))
		out[name+"-p99-ms"] = ms(percentile(lat, 99))
	}
	return out, nil
}

// parallel runs n calls of f on workers goroutines and returns each call's
// latency.
func parallel(n, workers int, f func(i int) error) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				err := f(i)
				lat[i] = time.Since(t0)
				if err != nil {
					mu.Lock()
					first = errors.Join(first, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return lat, first
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// childrenRSS sums the RSS of this process's children whose command line
// match says they are part of the server under test.
func childrenRSS(match func(cmdline string) bool) int64 {
	var total int64
	entries, _ := os.ReadDir("/proc")
	self := strconv.Itoa(os.Getpid())
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		rest := string(stat)[strings.LastIndexByte(string(stat), ')')+1:]
		if f := strings.Fields(rest); len(f) < 2 || f[1] != self {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if match(string(cmdline)) {
			total += testenv.RSS(pid)
		}
	}
	return total
}
