package metrics

import (
	"strings"
	"testing"
	"time"
)

func TestSeriesRate(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var s series
	s = advance(s, point{cpu: 100, at: t0}, time.Time{})
	if _, _, ok := s.rate(); ok {
		t.Error("one point of a node has no rate")
	}
	s = advance(s, point{cpu: 101, at: t0.Add(4 * time.Second)}, time.Time{})
	if cores, window, ok := s.rate(); !ok || cores != 0.25 || window != 4*time.Second {
		t.Errorf("rate = %v over %v (%v), want 0.25 over 4s", cores, window, ok)
	}
	// A counter that goes back (the node agent restarted) starts over.
	s = advance(s, point{cpu: 3, at: t0.Add(8 * time.Second)}, time.Time{})
	if _, _, ok := s.rate(); ok {
		t.Error("a reset counter must not give a (negative) rate")
	}

	// A container seen once is rated since it started; a restart (new start
	// time) starts over from that start.
	start := t0.Add(-10 * time.Second)
	c := advance(series{}, point{cpu: 1, at: t0}, start)
	if cores, window, ok := c.rate(); !ok || cores != 0.1 || window != 10*time.Second {
		t.Errorf("first container rate = %v over %v (%v), want 0.1 over 10s", cores, window, ok)
	}
	restart := t0.Add(2 * time.Second)
	c = advance(c, point{cpu: 0.5, at: t0.Add(7 * time.Second)}, restart)
	if cores, window, ok := c.rate(); !ok || cores != 0.1 || window != 5*time.Second {
		t.Errorf("restarted container rate = %v over %v (%v), want 0.1 over 5s", cores, window, ok)
	}
}

func TestParseKubeletMetrics(t *testing.T) {
	in := `# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 357.35 1764590400000
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 1.073741824e+09 1764590400000
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="web",namespace="default",pod="echo"} 2 1764590400000
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="web",namespace="default",pod="echo"} 2.097152e+06 1764590400000
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container="web",namespace="default",pod="echo"} 1.7645904e+09 1764590400000
`
	got, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got.node == nil || got.node.cpu != 357.35 || got.node.memory != 1<<30 || got.node.at.UnixMilli() != 1764590400000 {
		t.Errorf("node = %+v", got.node)
	}
	k := containerKey{"default", "echo", "web"}
	if p := got.containers[k]; p.cpu != 2 || p.memory != 2<<20 {
		t.Errorf("container = %+v", p)
	}
	if s := got.starts[k]; s.Unix() != 1764590400 {
		t.Errorf("start = %v", s)
	}
	if _, err := parse(strings.NewReader("this is { not prometheus")); err == nil {
		t.Error("garbage must be an error")
	}
}
