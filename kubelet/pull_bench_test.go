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

// BenchmarkThirtyBusyboxPods creates 30 pods with `image: busybox` at once
// and times them until Running on a real node: with imagePullPolicy Always
// (every start pulls, from the node's registry mirror) against a baseline
// with IfNotPresent (no pull) measured in the same run. Upstream's kubelet
// throttles pulls (5/s, burst 10); this node does not.
//
//	go test -run XXX -bench ThirtyBusyboxPods -benchtime 1x ./kubelet/
func BenchmarkThirtyBusyboxPods(b *testing.B) {
	cfg := rootAgentConfig(b, "bench-node", "kstkubelet4", "10.244.247.0/24")
	ns := "bench"
	startNode(b, cfg, ns)
	// The suite's client is throttled (5/s): creating 30 pods "at once"
	// needs one that is not.
	rc := rest.CopyConfig(restConfig)
	rc.QPS, rc.Burst = 1000, 1000
	fast, err := kubernetes.NewForConfig(rc)
	if err != nil {
		b.Fatal(err)
	}
	// One pod first, so both rounds find the sandbox machinery warm.
	round(b, fast, ns, "warm", corev1.PullIfNotPresent, 1)
	deleteAllPods(b, ns, cfg.RootDir)

	// Rounds run A B B A (IfNotPresent, Always, Always, IfNotPresent): a
	// round right after another's teardown is slower, whatever its policy.
	results := map[corev1.PullPolicy][]time.Duration{}
	allRunning := map[corev1.PullPolicy][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for r, policy := range []corev1.PullPolicy{corev1.PullIfNotPresent, corev1.PullAlways, corev1.PullAlways, corev1.PullIfNotPresent} {
			all := round(b, fast, ns, fmt.Sprintf("p%d-%d", i, r), policy, 30)
			results[policy] = append(results[policy], all...)
			allRunning[policy] = append(allRunning[policy], summarize(all).max)
			b.StopTimer()
			deleteAllPods(b, ns, cfg.RootDir)
			b.StartTimer()
		}
	}
	b.StopTimer()
	base, always := summarize(results[corev1.PullIfNotPresent]), summarize(results[corev1.PullAlways])
	baseAll, alwaysAll := mean(allRunning[corev1.PullIfNotPresent]), mean(allRunning[corev1.PullAlways])
	b.Logf("30 pods Running, IfNotPresent: p50 %s, all (mean of rounds) %s", base.p50, baseAll)
	b.Logf("30 pods Running, Always:       p50 %s, all (mean of rounds) %s (%.2fx the baseline)", always.p50, alwaysAll,
		alwaysAll.Seconds()/baseAll.Seconds())
	b.ReportMetric(baseAll.Seconds(), "s-all-ifnotpresent")
	b.ReportMetric(alwaysAll.Seconds(), "s-all-always")
	b.ReportMetric(alwaysAll.Seconds()/baseAll.Seconds(), "always/ifnotpresent")
}

func mean(d []time.Duration) time.Duration {
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	return sum / time.Duration(len(d))
}

type latencies struct{ p50, max time.Duration }

func summarize(d []time.Duration) latencies {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return latencies{p50: d[len(d)/2], max: d[len(d)-1]}
}

// round creates n busybox pods with policy at once and returns, per pod,
// the time from the start of the round until a watch saw it Running.
func round(b *testing.B, c kubernetes.Interface, ns, prefix string, policy corev1.PullPolicy, n int) []time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := c.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pod := pullPod(ns, fmt.Sprintf("%s-%d", prefix, i), "bench-node", "busybox", policy, "exec sleep 3600")
			if _, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	running := map[string]time.Duration{}
	for len(running) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				b.Fatalf("watch ended with %d of %d pods Running", len(running), n)
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			for _, cs := range p.Status.ContainerStatuses {
				if w := cs.State.Waiting; w != nil && (w.Reason == "ImagePullBackOff" || w.Reason == "ErrImagePull") {
					b.Fatalf("pod %s: %s: %s", p.Name, w.Reason, w.Message)
				}
			}
			if p.Status.Phase != corev1.PodRunning {
				continue
			}
			if _, seen := running[p.Name]; !seen {
				running[p.Name] = time.Since(start)
			}
		case <-ctx.Done():
			b.Fatalf("%d of %d pods Running after 2m", len(running), n)
		}
	}
	out := make([]time.Duration, 0, n)
	for _, d := range running {
		out = append(out, d)
	}
	return out
}
