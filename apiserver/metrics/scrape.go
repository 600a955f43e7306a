package metrics

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/kubeseed/kubeseed/apiserver/registry"
)

// DefaultInterval is how often nodes are scraped (metrics-server's default
// resolution is 60 s; a one-machine cluster can afford a fresher view).
const DefaultInterval = 15 * time.Second

// scrapeTimeout bounds one node's answer.
const scrapeTimeout = 5 * time.Second

// maxBody caps what a node may send back.
const maxBody = 16 << 20

// point is one cumulative CPU reading and a working set.
type point struct {
	cpu    float64 // core-seconds
	memory float64 // bytes
	at     time.Time
}

// series is the last two points of something, and a container's start.
type series struct {
	prev, cur point
	start     time.Time
}

type containerKey struct{ namespace, pod, container string }

// nodeSample is what one scrape of a node returned.
type nodeSample struct {
	node       *point
	containers map[containerKey]point
	starts     map[containerKey]time.Time
}

// Scraper collects usage from the node agents.
type Scraper struct {
	// Transport reaches the node agents (the API server's kubelet client).
	Transport http.RoundTripper
	Interval  time.Duration

	mu         sync.RWMutex
	client     kubernetes.Interface
	nodeSeries map[string]series
	ctrSeries  map[containerKey]series
}

// Run scrapes until ctx ends. client (the API server's loopback) lists the
// nodes to ask and, when metrics are read, the pods and nodes they are of:
// reads from the watch cache, so the API server keeps no copy of every pod
// for a rarely used API.
func (s *Scraper) Run(ctx context.Context, client kubernetes.Interface) {
	s.mu.Lock()
	s.client = client
	s.mu.Unlock()
	interval := s.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	for {
		next := interval
		if s.scrapeAll(ctx) {
			// A node without a rate yet is asked again soon, so that kubectl
			// top works seconds after a node (or kubeseed up) starts.
			next = min(newNodeRescrape, interval)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		}
	}
}

// newNodeRescrape is how soon a node seen for the first time is scraped again.
const newNodeRescrape = 2 * time.Second

// scrapeAll asks every node once; it reports whether some node has no rate
// yet (seen once, not answering, or no node at all), to be asked again soon.
func (s *Scraper) scrapeAll(ctx context.Context) (fresh bool) {
	list, err := s.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return false
	}
	// No node yet (a cluster starting): look again soon rather than one
	// resolution after the first node registers.
	fresh = len(list.Items) == 0
	var nodes []corev1.Node
	for _, n := range list.Items {
		// A node agent serving no HTTPS endpoint says so with port 0
		// (kubeseed's agent without a client CA, as simulated nodes run):
		// it has nothing to scrape, and asking thousands of them would
		// cost a refused connection each every few seconds.
		if n.Status.DaemonEndpoints.KubeletEndpoint.Port != 0 {
			nodes = append(nodes, n)
		}
	}
	results := make([]*nodeSample, len(nodes))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range nodes {
		n := &nodes[i]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			sample, err := s.scrape(ctx, n)
			if err != nil {
				klog.FromContext(ctx).V(2).Info("Scraping node metrics failed", "node", n.Name, "err", err)
				return
			}
			results[i] = sample
		}()
	}
	wg.Wait()

	s.mu.Lock()
	defer s.mu.Unlock()
	nodeSeries := map[string]series{}
	ctrSeries := map[containerKey]series{}
	for i, r := range results {
		name := nodes[i].Name
		if r == nil || r.node == nil {
			// An unreachable node (or one that reports nothing yet) is dropped,
			// as metrics-server does, and asked again soon.
			fresh = true
		}
		if r == nil {
			continue
		}
		if r.node != nil {
			sr := advance(s.nodeSeries[name], *r.node, time.Time{})
			nodeSeries[name] = sr
			fresh = fresh || sr.prev.at.IsZero()
		}
		for k, p := range r.containers {
			ctrSeries[k] = advance(s.ctrSeries[k], p, r.starts[k])
		}
	}
	s.nodeSeries, s.ctrSeries = nodeSeries, ctrSeries
	return fresh
}

// advance adds a point to a series; a restarted container (other start
// time) or a counter that went back starts over.
func advance(old series, p point, start time.Time) series {
	if old.cur.at.IsZero() || !old.start.Equal(start) || p.cpu < old.cur.cpu || !p.at.After(old.cur.at) {
		return series{cur: p, start: start}
	}
	return series{prev: old.cur, cur: p, start: start}
}

// rate is the CPU use in cores over the series' window, and the window; ok is
// false until there are two points (or, for a container, a start time).
func (s series) rate() (cores float64, window time.Duration, ok bool) {
	from := s.prev
	if from.at.IsZero() {
		if s.start.IsZero() || !s.cur.at.After(s.start) {
			return 0, 0, false
		}
		from = point{at: s.start}
	}
	window = s.cur.at.Sub(from.at)
	if window <= 0 {
		return 0, 0, false
	}
	return (s.cur.cpu - from.cpu) / window.Seconds(), window, true
}

func (s *Scraper) scrape(ctx context.Context, n *corev1.Node) (*nodeSample, error) {
	host, err := registry.NodeHost(n)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, scrapeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/metrics/resource", nil)
	if err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: s.Transport}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("node %s answered %s", n.Name, resp.Status)
	}
	return parse(io.LimitReader(resp.Body, maxBody))
}

// parse reads a kubelet's /metrics/resource.
func parse(r io.Reader) (*nodeSample, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nil, err
	}
	out := &nodeSample{containers: map[containerKey]point{}, starts: map[containerKey]time.Time{}}
	node := point{}
	haveCPU, haveMem := false, false
	for _, m := range metricsOf(families, "node_cpu_usage_seconds_total") {
		node.cpu, node.at, haveCPU = value(m), at(m), true
	}
	for _, m := range metricsOf(families, "node_memory_working_set_bytes") {
		node.memory, haveMem = value(m), true
	}
	if haveCPU && haveMem {
		out.node = &node
	}
	cpu := map[containerKey]point{}
	for _, m := range metricsOf(families, "container_cpu_usage_seconds_total") {
		cpu[key(m)] = point{cpu: value(m), at: at(m)}
	}
	for _, m := range metricsOf(families, "container_memory_working_set_bytes") {
		k := key(m)
		if p, ok := cpu[k]; ok {
			p.memory = value(m)
			out.containers[k] = p
		}
	}
	for _, m := range metricsOf(families, "container_start_time_seconds") {
		sec := value(m)
		out.starts[key(m)] = time.Unix(0, int64(sec*1e9))
	}
	return out, nil
}

func metricsOf(f map[string]*dto.MetricFamily, name string) []*dto.Metric {
	if fam, ok := f[name]; ok {
		return fam.GetMetric()
	}
	return nil
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// at is a sample's timestamp, or now for a sample without one.
func at(m *dto.Metric) time.Time {
	if m.TimestampMs != nil {
		return time.UnixMilli(m.GetTimestampMs())
	}
	return time.Now()
}

func key(m *dto.Metric) containerKey {
	var k containerKey
	for _, l := range m.GetLabel() {
		switch l.GetName() {
		case "namespace":
			k.namespace = l.GetValue()
		case "pod":
			k.pod = l.GetValue()
		case "container":
			k.container = l.GetValue()
		}
	}
	return k
}
