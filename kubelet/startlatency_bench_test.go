package kubelet_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// BenchmarkPodStartLatency times pods from their create call until a watch
// sees them Running, on a real node (containerd, CNI bridge, the registry
// mirror), for the two loads of the issue: 30 pods created at once, and
// 100 pods created at 10/s (the goal: p99 <= 1 s). Pods use the local
// busybox image; each load runs once with imagePullPolicy IfNotPresent (no
// pull) and once with Always (every start pulls from the node's mirror).
//
//	go test -run XXX -bench PodStartLatency -benchtime 1x ./kubelet/
func BenchmarkPodStartLatency(b *testing.B) {
	cfg := rootAgentConfig(b, "latency-node", "kstkubelet5", "10.244.246.0/24")
	ns := "latency"
	startNode(b, cfg, ns)
	rc := rest.CopyConfig(restConfig)
	rc.QPS, rc.Burst = 1000, 1000
	fast, err := kubernetes.NewForConfig(rc)
	if err != nil {
		b.Fatal(err)
	}
	startLatencies(b, fast, ns, "warm", corev1.PullIfNotPresent, 1, 0)
	deleteAllPods(b, ns, cfg.RootDir)

	for _, l := range []struct {
		name   string
		n      int
		every  time.Duration
		policy corev1.PullPolicy
	}{
		{"30 at once IfNotPresent", 30, 0, corev1.PullIfNotPresent},
		{"30 at once Always", 30, 0, corev1.PullAlways},
		{"100 at 10 per s IfNotPresent", 100, 100 * time.Millisecond, corev1.PullIfNotPresent},
		{"100 at 10 per s Always", 100, 100 * time.Millisecond, corev1.PullAlways},
	} {
		b.Run(l.name, func(b *testing.B) {
			var d []time.Duration
			for i := 0; i < b.N; i++ {
				d = append(d, startLatencies(b, fast, ns, fmt.Sprintf("r%d", i), l.policy, l.n, l.every)...)
				b.StopTimer()
				deleteAllPods(b, ns, cfg.RootDir)
				b.StartTimer()
			}
			sort.Slice(d, func(a, c int) bool { return d[a] < d[c] })
			p50, p99 := percentile(d, 50), percentile(d, 99)
			b.Logf("pod start, %s: p50 %.0f ms, p99 %.0f ms, max %.0f ms", l.name, ms(p50), ms(p99), ms(d[len(d)-1]))
			b.ReportMetric(ms(p50), "ms-p50")
			b.ReportMetric(ms(p99), "ms-p99")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile of sorted d, nearest rank.
func percentile(d []time.Duration, p int) time.Duration {
	i := (len(d)*p + 99) / 100
	return d[max(0, min(len(d), i)-1)]
}

// startLatencies creates n busybox pods, one every `every` (all at once
// when 0), and returns for each the time from its create call until a
// watch saw it Running.
func startLatencies(b *testing.B, c kubernetes.Interface, ns, prefix string, policy corev1.PullPolicy, n int, every time.Duration) []time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	w, err := c.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	var mu sync.Mutex
	created := map[string]time.Time{}
	errs := make(chan error, n)
	var wg sync.WaitGroup
	go func() {
		start := time.Now()
		for i := range n {
			if every > 0 {
				time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
			}
			name := fmt.Sprintf("%s-%d", prefix, i)
			pod := pullPod(ns, name, "latency-node", "busybox", policy, "exec sleep 3600")
			wg.Add(1)
			go func() {
				defer wg.Done()
				mu.Lock()
				created[name] = time.Now()
				mu.Unlock()
				if _, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
					errs <- err
				}
			}()
		}
	}()
	running := map[string]time.Duration{}
	for len(running) < n {
		select {
		case err := <-errs:
			b.Fatal(err)
		case ev, ok := <-w.ResultChan():
			if !ok {
				b.Fatalf("watch ended with %d of %d pods Running", len(running), n)
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok || p.Status.Phase != corev1.PodRunning {
				continue
			}
			if _, seen := running[p.Name]; !seen {
				mu.Lock()
				running[p.Name] = time.Since(created[p.Name])
				mu.Unlock()
			}
		case <-ctx.Done():
			b.Fatalf("%d of %d pods Running after 3m", len(running), n)
		}
	}
	wg.Wait()
	out := make([]time.Duration, 0, n)
	for _, d := range running {
		out = append(out, d)
	}
	return out
}
