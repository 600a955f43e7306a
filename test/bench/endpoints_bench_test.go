package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"
)

// benchEndpointNodes is how many nodes the endpoint benchmark's pods run on:
// upstream's EndpointSlice reconciler skips pods whose node does not exist.
const benchEndpointNodes = 10

// BenchmarkEndpointsVsUpstream gives the same Services (issue 5: 1000
// Services of 10 Ready pods each; KUBESEED_BENCH_SERVICES and
// KUBESEED_BENCH_ENDPOINTS to change) to upstream kube-controller-manager
// (--controllers=endpoint,endpointslice) and to kubeseed's "endpoints"
// controller, which writes both objects too, one after the other against one
// upstream kube-apiserver, each in its own namespace with fresh pods and the
// other's objects removed. The pods exist, bound, Running, Ready and with a
// pod IP, before the controllers start; the timing runs from the first
// Service created (the controllers already running and synced) until every
// Service has EndpointSlices with all its endpoints ready and an Endpoints
// object with all its addresses. The Services are headless because envtest's
// API server has a /24 service range, too small for a thousand cluster IPs;
// both controllers treat headless Services as others but for a label.
//
// It reports Services done per second for each, and ours as a ratio to
// upstream's (higher is better).
func BenchmarkEndpointsVsUpstream(b *testing.B) {
	services, perService := benchSize("KUBESEED_BENCH_SERVICES", 1000), benchSize("KUBESEED_BENCH_ENDPOINTS", 10)
	cb, stop := startControllerBench(b)
	defer stop()
	ctx := context.Background()
	if err := makeNodes(ctx, cb.cs, benchEndpointNodes); err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		var took [2]time.Duration
		for s, side := range cb.sides(b, "endpoint,endpointslice", "endpoints") {
			d, err := cb.runEndpoints(ctx, fmt.Sprintf("endpoints-%s-%d", side.name, i), services, perService, side.start)
			if err != nil {
				b.Fatalf("%s: %v", side.name, err)
			}
			took[s] = d
		}
		up, ours := took[0].Seconds(), took[1].Seconds()
		b.ReportMetric(float64(services)/up, "upstream-services/s")
		b.ReportMetric(float64(services)/ours, "kubeseed-services/s")
		b.ReportMetric(up/ours, "ratio-endpoints")
		b.Logf("%d services x %d ready pods: upstream endpoint+endpointslice %.2fs, kubeseed endpoints %.2fs (%.2fx)",
			services, perService, up, ours, up/ours)
	}
}

// runEndpoints makes n*per Ready pods in a fresh namespace ns, starts the
// controllers, creates n Services and returns how long until all have their
// endpoints, then removes every object it made.
func (cb *controllerBench) runEndpoints(ctx context.Context, ns string, n, per int, start func(context.Context) (func(), error)) (time.Duration, error) {
	if err := cb.createNamespace(ctx, ns); err != nil {
		return 0, err
	}
	core, discovery := cb.cs.CoreV1(), cb.cs.DiscoveryV1()
	// Pod i+1 backs Service i/per; pod 0 backs the warm-up Service.
	err := parallel(n*per+1, 32, func(i int) error {
		app := "warmup"
		if i > 0 {
			app = fmt.Sprintf("s-%04d", (i-1)/per)
		}
		pod, err := core.Pods(ns).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%05d", i), Labels: map[string]string{"app": app}},
			Spec: corev1.PodSpec{
				NodeName:   fmt.Sprintf("node-%05d", i%benchEndpointNodes),
				Containers: []corev1.Container{{Name: "c", Image: "busybox", Ports: []corev1.ContainerPort{{ContainerPort: 8080}}}},
			},
		}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		ip := fmt.Sprintf("10.%d.%d.%d", 1+i>>16, i>>8&0xff, i&0xff)
		now := metav1.Now()
		pod.Status = corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, HostIP: "192.168.0.1", StartTime: &now,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			},
		}
		_, err = core.Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("creating pods: %w", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop, err := start(cctx)
	if err != nil {
		return 0, err
	}
	defer stop()

	// Warm up: a Service with both its objects proves the controllers are
	// running with synced caches, so the timing leaves start-up out.
	if _, err := core.Services(ns).Create(ctx, benchService("warmup"), metav1.CreateOptions{}); err != nil {
		return 0, err
	}
	err = poll(ctx, 2*time.Minute, "the warm-up service's endpoints", func() (bool, error) {
		slices, err := discovery.EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=warmup"})
		if err != nil {
			return false, err
		}
		ep, err := core.Endpoints(ns).Get(ctx, "warmup", metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		return len(slices.Items) == 1 && readyEndpoints(&slices.Items[0]) == 1 && endpointAddresses(ep) == 1, nil
	})
	if err != nil {
		return 0, err
	}

	// One watch per kind, merged, both from before the first Service.
	slices, err := discovery.EndpointSlices(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	eps, err := core.Endpoints(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, err
	}
	sw, err := watchFrom(ctx, slices.ResourceVersion, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return discovery.EndpointSlices(ns).Watch(ctx, o)
	})
	if err != nil {
		return 0, err
	}
	defer sw.Stop()
	ew, err := watchFrom(ctx, eps.ResourceVersion, func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		return core.Endpoints(ns).Watch(ctx, o)
	})
	if err != nil {
		return 0, err
	}
	defer ew.Stop()
	events := make(chan watch.Event)
	merged := watch.NewProxyWatcher(events)
	defer merged.Stop()
	for _, w := range []watch.Interface{sw, ew} {
		go func() {
			for ev := range w.ResultChan() {
				select {
				case events <- ev:
				case <-merged.StopChan():
					return
				}
			}
		}()
	}

	began := time.Now()
	err = parallel(n, 32, func(i int) error {
		_, err := core.Services(ns).Create(ctx, benchService(fmt.Sprintf("s-%04d", i)), metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("creating services: %w", err)
	}
	sliceReady := map[string]int{} // slice name -> ready endpoints
	readyOf := map[string]int{}    // service -> ready endpoints over its slices
	addrsOf := map[string]int{}    // service -> Endpoints addresses
	done := map[string]bool{}
	check := func(svc string) {
		if svc != "" && svc != "warmup" && readyOf[svc] == per && addrsOf[svc] == per {
			done[svc] = true
		} else {
			delete(done, svc)
		}
	}
	err = waitFor(merged, time.Duration(n)*50*time.Millisecond+2*time.Minute, func(ev watch.Event) bool {
		switch o := ev.Object.(type) {
		case *discoveryv1.EndpointSlice:
			svc := o.Labels[discoveryv1.LabelServiceName]
			readyOf[svc] -= sliceReady[o.Name]
			sliceReady[o.Name] = 0
			if ev.Type != watch.Deleted {
				sliceReady[o.Name] = readyEndpoints(o)
			}
			readyOf[svc] += sliceReady[o.Name]
			check(svc)
		case *corev1.Endpoints:
			addrsOf[o.Name] = 0
			if ev.Type != watch.Deleted {
				addrsOf[o.Name] = endpointAddresses(o)
			}
			check(o.Name)
		}
		return len(done) == n
	}, func() string { return fmt.Sprintf("%d of %d services have all their endpoints", len(done), n) })
	if err != nil {
		return 0, err
	}
	took := time.Since(began)

	stop()
	svcs, err := core.Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return took, err
	}
	// Services have no deletecollection.
	err = parallel(len(svcs.Items), 32, func(i int) error {
		return core.Services(ns).Delete(ctx, svcs.Items[i].Name, metav1.DeleteOptions{})
	})
	if err != nil {
		return took, err
	}
	return took, deleteAll(ctx, discovery.EndpointSlices(ns).DeleteCollection, core.Endpoints(ns).DeleteCollection, core.Pods(ns).DeleteCollection)
}

func benchService(name string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  map[string]string{"app": name},
			Ports:     []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
}

func readyEndpoints(s *discoveryv1.EndpointSlice) int {
	n := 0
	for _, e := range s.Endpoints {
		if ptr.Deref(e.Conditions.Ready, false) {
			n++
		}
	}
	return n
}

func endpointAddresses(ep *corev1.Endpoints) int {
	n := 0
	for _, s := range ep.Subsets {
		n += len(s.Addresses)
	}
	return n
}
