package stats

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// Source is what /metrics/resource reports on.
type Source struct {
	Cgroups Cgroups
	// ProcRoot is /proc unless a test says otherwise.
	ProcRoot string
	Runtime  kruntime.Runtime
	// Pods lists the node's pods (nil until the agent has its pod cache).
	Pods func() []*corev1.Pod
}

// Handler serves the kubelet's resource metrics in Prometheus text format.
func (s *Source) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{src: s})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Upstream's names and help texts (k8s.io/kubelet resource metrics), so
// any scraper of a kubelet reads ours.
var (
	containerLabels = []string{"container", "pod", "namespace"}
	podLabels       = []string{"pod", "namespace"}

	nodeCPU = prometheus.NewDesc("node_cpu_usage_seconds_total",
		"[STABLE] Cumulative cpu time consumed by the node in core-seconds", nil, nil)
	nodeMemory = prometheus.NewDesc("node_memory_working_set_bytes",
		"[STABLE] Current working set of the node in bytes", nil, nil)
	containerCPU = prometheus.NewDesc("container_cpu_usage_seconds_total",
		"[STABLE] Cumulative cpu time consumed by the container in core-seconds", containerLabels, nil)
	containerMemory = prometheus.NewDesc("container_memory_working_set_bytes",
		"[STABLE] Current working set of the container in bytes", containerLabels, nil)
	containerStart = prometheus.NewDesc("container_start_time_seconds",
		"[STABLE] Start time of the container since unix epoch in seconds", containerLabels, nil)
	podCPU = prometheus.NewDesc("pod_cpu_usage_seconds_total",
		"[STABLE] Cumulative cpu time consumed by the pod in core-seconds", podLabels, nil)
	podMemory = prometheus.NewDesc("pod_memory_working_set_bytes",
		"[STABLE] Current working set of the pod in bytes", podLabels, nil)
	scrapeError = prometheus.NewDesc("resource_scrape_error",
		"[STABLE] 1 if there was an error while getting container metrics, 0 otherwise", nil, nil)
)

// collectTimeout bounds one scrape's runtime queries.
const collectTimeout = 10 * time.Second

type collector struct{ src *Source }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{nodeCPU, nodeMemory, containerCPU, containerMemory, containerStart, podCPU, podMemory, scrapeError} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	failed := 0.0
	emit := func(d *prometheus.Desc, t prometheus.ValueType, at time.Time, v float64, labels ...string) {
		m, err := prometheus.NewConstMetric(d, t, v, labels...)
		if err != nil {
			failed = 1
			return
		}
		ch <- prometheus.NewMetricWithTimestamp(at, m)
	}
	if n, err := Node(c.src.ProcRoot); err == nil {
		emit(nodeCPU, prometheus.CounterValue, n.At, n.CPUSeconds)
		emit(nodeMemory, prometheus.GaugeValue, n.At, float64(n.WorkingSetBytes))
	} else {
		failed = 1
	}
	if c.src.Pods != nil && c.src.Runtime != nil {
		ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
		defer cancel()
		for _, pod := range c.src.Pods() {
			if !c.collectPod(ctx, pod, emit) {
				failed = 1
			}
		}
	}
	ch <- prometheus.MustNewConstMetric(scrapeError, prometheus.GaugeValue, failed)
}

// collectPod reports a pod's running containers and the pod as a whole; it
// is false when the runtime could not be asked. A pod with nothing running
// reports nothing, as upstream.
func (c *collector) collectPod(ctx context.Context, pod *corev1.Pod, emit func(*prometheus.Desc, prometheus.ValueType, time.Time, float64, ...string)) bool {
	ctrs, err := c.src.Runtime.Containers(ctx, pod.UID)
	if err != nil {
		return false
	}
	running := 0
	for _, ctr := range ctrs {
		if ctr.State != kruntime.StateRunning {
			continue
		}
		u, err := c.src.Cgroups.Container(string(pod.UID), ctr.ID)
		if err != nil {
			// The container may have exited since it was listed.
			continue
		}
		running++
		emit(containerCPU, prometheus.CounterValue, u.At, u.CPUSeconds, ctr.Name, pod.Name, pod.Namespace)
		emit(containerMemory, prometheus.GaugeValue, u.At, float64(u.WorkingSetBytes), ctr.Name, pod.Name, pod.Namespace)
		if !ctr.StartedAt.IsZero() {
			emit(containerStart, prometheus.GaugeValue, u.At, float64(ctr.StartedAt.UnixNano())/1e9, ctr.Name, pod.Name, pod.Namespace)
		}
	}
	if running == 0 {
		return true
	}
	if u, err := c.src.Cgroups.Container(string(pod.UID), ""); err == nil {
		emit(podCPU, prometheus.CounterValue, u.At, u.CPUSeconds, pod.Name, pod.Namespace)
		emit(podMemory, prometheus.GaugeValue, u.At, float64(u.WorkingSetBytes), pod.Name, pod.Namespace)
	}
	return true
}
