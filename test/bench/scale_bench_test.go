package bench

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kubeseed/kubeseed/controllers/manager"
	"github.com/kubeseed/kubeseed/kubelet"
	"github.com/kubeseed/kubeseed/kubelet/node"
	"github.com/kubeseed/kubeseed/test/testenv"
)

// Sizes of BenchmarkSimulatedScale, from the environment. The defaults finish
// in about two minutes on a 2-core machine; the full size is
// KUBESEED_SCALE_NODES=5000 (30 pods per node: 150000 pods, upstream's limit).
const (
	envScaleNodes       = "KUBESEED_SCALE_NODES"
	envScalePodsPerNode = "KUBESEED_SCALE_PODS_PER_NODE"
	envScaleReplicas    = "KUBESEED_SCALE_REPLICAS"
	envScaleSteady      = "KUBESEED_SCALE_STEADY_SECONDS"
	// envScaleProfile names a directory for a CPU profile of each phase
	// (cpu-nodes.prof, cpu-wave0.prof, cpu-steady.prof) and a heap
	// profile at the end (heap.prof); not with -cpuprofile.
	envScaleProfile = "KUBESEED_SCALE_PROFILE"
)

// BenchmarkSimulatedScale runs a whole cluster in this process at node
// scale: kubeseed's API server (embedded etcd; KUBESEED_TEST_APISERVER=upstream
// for kube-apiserver instead), every controller including the scheduler and
// the node lifecycle controller, and N node agents with the simulated runtime,
// each as `kubeseed kubelet --runtime simulated` runs it (its own client at
// upstream kubelet's 50 qps, lease every 10 s, pod and service informers).
//
// The load is what a user scaling a cluster brings: Deployments (of
// KUBESEED_SCALE_REPLICAS, default 30, replicas, in namespaces of 100) adding
// up to N x KUBESEED_SCALE_PODS_PER_NODE pods, so every pod takes the path of
// production pods: deployment -> ReplicaSet -> pod create -> scheduler bind
// -> node agent -> Running. It reports, from the first Deployment create:
// the time until a watch saw every pod Running, pods/s, p50/p99 of each
// pod's create (its ADDED event) to Running, whether every node stayed Ready
// with its Lease renewed in time (the longest gap between two renewals of one
// node's Lease), and the process's RSS, Go heap and goroutines at the end.
// After the wave it stays KUBESEED_SCALE_STEADY_SECONDS (default 45, longer
// than the node monitor grace period of 40 s) to show that the idle cluster
// keeps every heartbeat, and how much CPU it then uses.
//
//	KUBESEED_SCALE_NODES=5000 go test -run '^$' -bench SimulatedScale -benchtime 1x -timeout 2h ./test/bench/
func BenchmarkSimulatedScale(b *testing.B) {
	nodes := benchSize(envScaleNodes, 200)
	perNode := benchSize(envScalePodsPerNode, 30)
	replicas := benchSize(envScaleReplicas, 30)
	steady := time.Duration(benchSize(envScaleSteady, 45)) * time.Second
	pods := nodes * perNode
	logs := quietLogs()
	prof := profiler{dir: os.Getenv(envScaleProfile)}
	defer prof.stop()

	server := os.Getenv(testenv.APIServerEnv)
	if server == "" {
		server = "kubeseed"
	}
	env, err := testenv.NewNamed(server)
	if err != nil {
		b.Fatal(err)
	}
	admin, err := env.Start()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	cpu0 := cpuTime()
	start := time.Now()
	b.Logf("%s API server up in %v; %d nodes x %d pods (%d pods in Deployments of %d), GOMAXPROCS %d",
		env.Name, time.Since(start).Round(time.Millisecond), nodes, perNode, pods, replicas, goruntime.GOMAXPROCS(0))

	// The bench's own client reads in protobuf, as controllers do, so that
	// watching every pod costs the least next to what it measures.
	fast := rest.CopyConfig(admin)
	fast.QPS, fast.Burst = 1000, 2000
	fast.ContentType = runtime.ContentTypeProtobuf
	fast.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	cs := kubernetes.NewForConfigOrDie(fast)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	mgr, err := manager.New(manager.Config{RestConfig: rest.CopyConfig(admin)})
	if err != nil {
		b.Fatal(err)
	}
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Run(ctx) }()

	heapBefore := heapInuse()
	prof.start(b, "cpu-nodes")
	nw, err := watchNodes(ctx, cs)
	if err != nil {
		b.Fatal(err)
	}
	agents, err := startAgents(ctx, admin, b.TempDir(), nodes)
	if err != nil {
		b.Fatal(err)
	}
	defer agents.stop()
	nodesReady, nodesSchedulable, err := nw.waitReady(ctx, nodes, 5*time.Minute+time.Duration(nodes)*20*time.Millisecond, agents)
	if err != nil {
		b.Fatal(err)
	}
	heapAgents := heapInuse()
	b.Logf("%d nodes Ready %.1f s after their agents started, without the not-ready taint after %.1f s; heap %.0f MiB (%.0f KiB per idle agent), %d goroutines, %.1f CPU s",
		nodes, nodesReady.Seconds(), nodesSchedulable.Seconds(), mib(heapAgents), float64(heapAgents-heapBefore)/1024/float64(nodes), goruntime.NumGoroutine(),
		(cpuTime() - cpu0).Seconds())
	lw, err := watchLeases(ctx, cs)
	if err != nil {
		b.Fatal(err)
	}

	for i := 0; i < b.N; i++ {
		requests0 := apiRequests()
		prof.start(b, fmt.Sprintf("cpu-wave%d", i))
		cpuWave := cpuTime()
		wave, err := runWave(ctx, cs, fmt.Sprintf("scale%d", i), pods, replicas)
		if err != nil {
			b.Fatal(err)
		}
		waveCPU := cpuTime() - cpuWave
		requests := apiRequests().since(requests0)
		b.Logf("wave %d: %d pods Running %.1f s after the first Deployment create: %.0f pods/s; create-to-Running p50 %.2f s, p99 %.2f s, max %.2f s; %.0f CPU s (%.2f ms per pod)",
			i, pods, wave.total.Seconds(), float64(pods)/wave.total.Seconds(), wave.p50.Seconds(), wave.p99.Seconds(), wave.max.Seconds(),
			waveCPU.Seconds(), float64(waveCPU)/float64(time.Millisecond)/float64(pods))
		b.Logf("wave %d: API requests %s", i, requests.top(10, wave.total))
		b.ReportMetric(wave.total.Seconds(), "s-all-running")
		b.ReportMetric(float64(pods)/wave.total.Seconds(), "pods/s")
		b.ReportMetric(wave.p50.Seconds(), "s-p50")
		b.ReportMetric(wave.p99.Seconds(), "s-p99")
		if i < b.N-1 {
			if err := clearWave(ctx, cs, wave); err != nil {
				b.Fatal(err)
			}
		}
	}

	// Idle at scale: every agent renewing its lease and resyncing its pods.
	prof.start(b, "cpu-steady")
	cpuSteady, steadyStart := cpuTime(), time.Now()
	requests0 := apiRequests()
	select {
	case <-time.After(steady):
	case err := <-mgrDone:
		b.Fatalf("controller manager stopped: %v", err)
	}
	steadyCores := (cpuTime() - cpuSteady).Seconds() / time.Since(steadyStart).Seconds()
	if steady > 0 {
		b.Logf("steady %v: %.2f cores busy; API requests %s", steady, steadyCores, apiRequests().since(requests0).top(6, time.Since(steadyStart)))
	}

	prof.stop()
	prof.heap(b)
	unready, maxGap, late := nw.unready(), lw.maxGap(), lw.late(time.Now(), 2*kubeletHeartbeat)
	// The live heap: what the process keeps, not what its last GC cycle
	// happened to leave for the next.
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	rss, hwm := procStatus("VmRSS"), procStatus("VmHWM")
	b.Logf("heartbeats: %d of %d nodes left Ready %v, taints added to Ready nodes %v; longest gap between two renewals of a node's Lease %.1f s; %d leases not renewed for %v at the end",
		len(unready), nodes, firstNames(unready, 5), nw.taintsAdded(), maxGap.Seconds(), late, 2*kubeletHeartbeat)
	b.Logf("end: RSS %.0f MiB (peak %.0f MiB), Go heap in use after a GC %.0f MiB (sys %.0f MiB), %d goroutines, %.0f CPU s in all; %d errors logged %v",
		mib(rss), mib(hwm), mib(ms.HeapInuse), mib(ms.Sys), goruntime.NumGoroutine(), (cpuTime() - cpu0).Seconds(), logs.errors.Load(), logs.first())
	b.ReportMetric(float64(len(unready)), "nodes-not-ready")
	b.ReportMetric(maxGap.Seconds(), "s-max-lease-gap")
	b.ReportMetric(mib(rss), "MiB-rss")
	b.ReportMetric(mib(ms.HeapInuse), "MiB-heap")
	if steady > 0 {
		b.ReportMetric(steadyCores, "cores-steady")
	}
	if len(unready) > 0 || late > 0 {
		b.Errorf("heartbeats did not keep up: %d nodes left Ready, %d leases late", len(unready), late)
	}
	cancel()
	agents.stop()
	<-mgrDone
}

// profiler writes one CPU profile per phase into dir (nothing when empty).
type profiler struct {
	dir string
	f   *os.File
}

func (p *profiler) start(b *testing.B, name string) {
	p.stop()
	if p.dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(p.dir, name+".prof"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatalf("%s: %v (not with -cpuprofile)", envScaleProfile, err)
	}
	p.f = f
}

func (p *profiler) stop() {
	if p.f != nil {
		pprof.StopCPUProfile()
		_ = p.f.Close()
		p.f = nil
	}
}

func (p *profiler) heap(b *testing.B) {
	if p.dir == "" {
		return
	}
	f, err := os.Create(filepath.Join(p.dir, "heap.prof"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// kubeletHeartbeat is the agents' lease renewal interval (kubelet.Config's
// default).
const kubeletHeartbeat = 10 * time.Second

// agents are the running node agents.
type agents struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	failed  atomic.Int64
	firstMu sync.Mutex
	first   error
	once    sync.Once
}

func (a *agents) stop() { a.once.Do(func() { a.cancel(); a.wg.Wait() }) }

func (a *agents) err() error {
	a.firstMu.Lock()
	defer a.firstMu.Unlock()
	return a.first
}

// startAgents starts n simulated node agents, as `kubeseed kubelet --runtime
// simulated` does, each with its own client (the agent's default rate,
// upstream kubelet's 50 qps), pod CIDR and node address on loopback.
func startAgents(ctx context.Context, admin *rest.Config, dir string, n int) (*agents, error) {
	ctx, cancel := context.WithCancel(ctx)
	a := &agents{cancel: cancel}
	rc := rest.CopyConfig(admin)
	rc.QPS, rc.Burst = 0, 0 // the agent's own default
	for i := range n {
		name := scaleNodeName(i)
		agent, err := kubelet.New(kubelet.Config{
			RestConfig: rc, NodeName: name, Runtime: kubelet.RuntimeSimulated,
			RootDir: fmt.Sprintf("%s/%s", dir, name),
			// 10.128.0.0/9 holds 32768 node ranges, clear of the service range.
			PodCIDR: fmt.Sprintf("10.%d.%d.0/24", 128+i/256, i%256),
			NodeIP:  fmt.Sprintf("127.1.%d.%d", i/256, i%256),
		})
		if err != nil {
			cancel()
			return nil, err
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			if err := agent.Run(ctx); err != nil {
				a.failed.Add(1)
				a.firstMu.Lock()
				if a.first == nil {
					a.first = fmt.Errorf("node agent %s: %w", name, err)
				}
				a.firstMu.Unlock()
			}
		}()
	}
	return a, nil
}

func scaleNodeName(i int) string { return fmt.Sprintf("sim-%05d", i) }

// nodeWatch follows every node's Ready condition.
type nodeWatch struct {
	mu       sync.Mutex
	ready    map[string]bool
	wasReady map[string]bool
	// schedulable holds the Ready nodes without NoSchedule taints (the
	// node lifecycle controller removed the not-ready one).
	schedulable map[string]bool
	// left holds the nodes that went from Ready to anything else.
	left    map[string]bool
	changed chan struct{}
	// taints are the node's taints as last seen, and tainted counts the
	// taints added to Ready nodes, by key and effect.
	taints  map[string]string
	tainted map[string]int
}

func watchNodes(ctx context.Context, cs kubernetes.Interface) (*nodeWatch, error) {
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	w, err := watchFrom(ctx, list.ResourceVersion, cs.CoreV1().Nodes().Watch)
	if err != nil {
		return nil, err
	}
	nw := &nodeWatch{ready: map[string]bool{}, wasReady: map[string]bool{}, schedulable: map[string]bool{}, left: map[string]bool{}, changed: make(chan struct{}, 1),
		taints: map[string]string{}, tainted: map[string]int{}}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			n, ok := ev.Object.(*corev1.Node)
			if !ok {
				continue
			}
			ready := false
			if ev.Type != watch.Deleted {
				for _, c := range n.Status.Conditions {
					if c.Type == corev1.NodeReady {
						ready = c.Status == corev1.ConditionTrue
					}
				}
			}
			nw.mu.Lock()
			var taints []string
			noSchedule := false
			for _, t := range n.Spec.Taints {
				taints = append(taints, t.Key+":"+string(t.Effect))
				noSchedule = noSchedule || t.Effect == corev1.TaintEffectNoSchedule
			}
			if ready && !noSchedule {
				nw.schedulable[n.Name] = true
			} else {
				delete(nw.schedulable, n.Name)
			}
			if old := nw.taints[n.Name]; nw.wasReady[n.Name] && old != strings.Join(taints, ",") {
				for _, t := range taints {
					if !strings.Contains(","+old+",", ","+t+",") {
						nw.tainted[t]++
					}
				}
			}
			nw.taints[n.Name] = strings.Join(taints, ",")
			if ready {
				nw.ready[n.Name], nw.wasReady[n.Name] = true, true
			} else {
				delete(nw.ready, n.Name)
				if nw.wasReady[n.Name] {
					nw.left[n.Name] = true
				}
			}
			nw.mu.Unlock()
			select {
			case nw.changed <- struct{}{}:
			default:
			}
		}
	}()
	return nw, nil
}

// waitReady waits until n nodes are Ready (nodes) and also without
// NoSchedule taints (schedulable), reporting when each was reached.
func (nw *nodeWatch) waitReady(ctx context.Context, n int, timeout time.Duration, a *agents) (ready, schedulable time.Duration, err error) {
	start := time.Now()
	deadline := time.After(timeout)
	for {
		nw.mu.Lock()
		got, free := len(nw.ready), len(nw.schedulable)
		nw.mu.Unlock()
		if got >= n && ready == 0 {
			ready = time.Since(start)
		}
		if free >= n {
			return ready, time.Since(start), nil
		}
		if err := a.err(); err != nil {
			return 0, 0, err
		}
		select {
		case <-nw.changed:
		case <-time.After(time.Second):
		case <-deadline:
			return 0, 0, fmt.Errorf("%d of %d nodes Ready, %d of them without NoSchedule taints, after %v", got, n, free, timeout)
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		}
	}
}

// taintsAdded describes the taints Ready nodes got (none when healthy).
func (nw *nodeWatch) taintsAdded() map[string]int {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return maps.Clone(nw.tainted)
}

func (nw *nodeWatch) unready() []string {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	var out []string
	for name := range nw.left {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// leaseWatch follows the renewals of the nodes' Leases.
type leaseWatch struct {
	mu   sync.Mutex
	last map[string]time.Time
	gap  time.Duration
}

func watchLeases(ctx context.Context, cs kubernetes.Interface) (*leaseWatch, error) {
	leases := cs.CoordinationV1().Leases(node.LeaseNamespace)
	list, err := leases.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	lw := &leaseWatch{last: map[string]time.Time{}}
	for i := range list.Items {
		lw.observe(&list.Items[i])
	}
	w, err := watchFrom(ctx, list.ResourceVersion, leases.Watch)
	if err != nil {
		return nil, err
	}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			if l, ok := ev.Object.(*coordinationv1.Lease); ok && ev.Type != watch.Deleted {
				lw.observe(l)
			}
		}
	}()
	return lw, nil
}

func (lw *leaseWatch) observe(l *coordinationv1.Lease) {
	if l.Spec.RenewTime == nil {
		return
	}
	t := l.Spec.RenewTime.Time
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if prev, ok := lw.last[l.Name]; ok && t.Sub(prev) > lw.gap {
		lw.gap = t.Sub(prev)
	}
	lw.last[l.Name] = t
}

func (lw *leaseWatch) maxGap() time.Duration {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.gap
}

// late counts leases whose last renewal is older than limit at now.
func (lw *leaseWatch) late(now time.Time, limit time.Duration) int {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	n := 0
	for _, t := range lw.last {
		if now.Sub(t) > limit {
			n++
		}
	}
	return n
}

// wave is one burst of Deployments and what a watch saw of their pods.
type wave struct {
	namespaces    []string
	total         time.Duration
	p50, p99, max time.Duration
}

// runWave creates Deployments adding up to pods replicas and waits until a
// watch saw every one of their pods Running.
func runWave(ctx context.Context, cs kubernetes.Interface, prefix string, pods, replicas int) (*wave, error) {
	const perNamespace = 100
	deployments := (pods + replicas - 1) / replicas
	wv := &wave{}
	for i := 0; i*perNamespace < deployments; i++ {
		ns := fmt.Sprintf("%s-%03d", prefix, i)
		if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			return nil, err
		}
		wv.namespaces = append(wv.namespaces, ns)
	}
	// Pods need their namespace's default ServiceAccount, as a user's
	// `kubectl create namespace` is followed by a wait or a retry.
	for _, ns := range wv.namespaces {
		if err := poll(ctx, time.Minute, "default ServiceAccount in "+ns, func() (bool, error) {
			_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
			return err == nil, nil
		}); err != nil {
			return nil, err
		}
	}
	list, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return nil, err
	}
	w, err := watchFrom(ctx, list.ResourceVersion, cs.CoreV1().Pods("").Watch)
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	start := time.Now()
	go func() {
		_ = parallel(deployments, 16, func(i int) error {
			n := replicas
			if last := pods - i*replicas; last < n {
				n = last
			}
			_, err := cs.AppsV1().Deployments(wv.namespaces[i/perNamespace]).Create(ctx, scaleDeployment(fmt.Sprintf("d-%05d", i), n), metav1.CreateOptions{})
			return err
		})
	}()
	added := map[string]time.Time{}
	running := make([]time.Duration, 0, pods)
	isRunning := map[string]bool{}
	var last time.Time
	err = waitFor(w, 10*time.Minute+time.Duration(pods)*10*time.Millisecond, func(ev watch.Event) bool {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok || !strings.HasPrefix(p.Namespace, prefix+"-") {
			return false
		}
		key := p.Namespace + "/" + p.Name
		now := time.Now()
		if _, ok := added[key]; !ok {
			added[key] = now
		}
		if p.Status.Phase == corev1.PodRunning && !isRunning[key] {
			isRunning[key] = true
			running = append(running, now.Sub(added[key]))
			last = now
		}
		return len(running) >= pods
	}, func() string { return fmt.Sprintf("%d pods seen, %d of %d Running", len(added), len(running), pods) })
	if err != nil {
		return nil, err
	}
	sort.Slice(running, func(a, c int) bool { return running[a] < running[c] })
	wv.total = last.Sub(start)
	wv.p50, wv.p99, wv.max = percentileOf(running, 50), percentileOf(running, 99), running[len(running)-1]
	return wv, nil
}

// clearWave deletes a wave's namespaces and waits until their pods are gone,
// so the next wave starts on empty nodes.
func clearWave(ctx context.Context, cs kubernetes.Interface, wv *wave) error {
	for _, ns := range wv.namespaces {
		if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
			return err
		}
	}
	return poll(ctx, 10*time.Minute, "the wave's namespaces to go", func() (bool, error) {
		for _, ns := range wv.namespaces {
			if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err == nil {
				return false, nil
			}
		}
		return true, nil
	})
}

func scaleDeployment(name string, replicas int) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(replicas)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.k8s.io/pause:3.10", ImagePullPolicy: corev1.PullIfNotPresent,
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("10Mi"),
					}},
				}}},
			},
		},
	}
}

// percentileOf sorted d, nearest rank.
func percentileOf(d []time.Duration, p int) time.Duration {
	i := (len(d)*p + 99) / 100
	return d[max(0, min(len(d), i)-1)]
}

func firstNames(names []string, n int) []string {
	if len(names) > n {
		return append(names[:n:n], "...")
	}
	return names
}

func mib[T int64 | uint64](v T) float64 { return float64(v) / (1 << 20) }

func heapInuse() int64 {
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// procStatus reads a size field of /proc/self/status in bytes.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuTime is the CPU time (user and system) this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// requestCounts are the API server's requests by verb and resource, read
// from its own apiserver_request_total (it runs in this process).
type requestCounts map[string]float64

func apiRequests() requestCounts {
	out := requestCounts{}
	families, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		return out
	}
	for _, f := range families {
		if f.GetName() != "apiserver_request_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			var verb, res, sub string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "verb":
					verb = l.GetValue()
				case "resource":
					res = l.GetValue()
				case "subresource":
					sub = l.GetValue()
				}
			}
			if sub != "" {
				res += "/" + sub
			}
			out[verb+" "+res] += m.GetCounter().GetValue()
		}
	}
	return out
}

func (c requestCounts) since(old requestCounts) requestCounts {
	out := requestCounts{}
	for k, v := range c {
		if d := v - old[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

// top describes the n most frequent requests, per second over d.
func (c requestCounts) top(n int, d time.Duration) string {
	keys := make([]string, 0, len(c))
	total := 0.0
	for k, v := range c {
		keys = append(keys, k)
		total += v
	}
	sort.Slice(keys, func(a, b int) bool { return c[keys[a]] > c[keys[b]] })
	if len(keys) > n {
		keys = keys[:n]
	}
	parts := []string{fmt.Sprintf("%.0f/s in all", total/d.Seconds())}
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %.0f/s", k, c[k]/d.Seconds()))
	}
	return strings.Join(parts, ", ")
}

// errorLog counts the errors every component logs (klog and
// controller-runtime), keeping the first few, and drops the rest: at
// thousands of agents the info lines alone would be the load.
type errorLog struct {
	errors atomic.Int64
	mu     sync.Mutex
	msgs   []string
}

func quietLogs() *errorLog {
	l := &errorLog{}
	logger := logr.New(&errorSink{log: l})
	klog.SetLogger(logger)
	ctrl.SetLogger(logger)
	return l
}

func (l *errorLog) first() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs...)
}

type errorSink struct {
	log  *errorLog
	name string
}

func (s *errorSink) Init(logr.RuntimeInfo)                  {}
func (s *errorSink) Enabled(int) bool                       { return false }
func (s *errorSink) Info(int, string, ...any)               {}
func (s *errorSink) WithValues(...any) logr.LogSink         { return s }
func (s *errorSink) WithName(name string) logr.LogSink      { return &errorSink{log: s.log, name: name} }
func (s *errorSink) Error(err error, msg string, kv ...any) { s.log.add(s.name, err, msg) }

func (l *errorLog) add(name string, err error, msg string) {
	if n := l.errors.Add(1); n > 5 {
		return
	}
	if err == nil {
		err = errors.New("")
	}
	l.mu.Lock()
	l.msgs = append(l.msgs, fmt.Sprintf("%s: %s: %v", name, msg, err))
	l.mu.Unlock()
}
