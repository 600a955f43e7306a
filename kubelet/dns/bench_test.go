package dns

import (
	"testing"
	"time"

	"github.com/miekg/dns"
	"k8s.io/apimachinery/pkg/runtime"
)

// BenchmarkQuery measures queries per second for a Service name over UDP
// (one client, sequential queries; ns/op is the round trip).
func BenchmarkQuery(b *testing.B) {
	var objs []runtime.Object
	for _, o := range testObjects() {
		objs = append(objs, o.(runtime.Object))
	}
	_, addr := startServer(b, objs...)
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	conn, err := c.Dial(addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	m := new(dns.Msg)
	m.SetQuestion("echo.default.svc.cluster.local.", dns.TypeA)
	start := time.Now()
	for b.Loop() {
		resp, _, err := c.ExchangeWithConn(m, conn)
		if err != nil || len(resp.Answer) != 1 {
			b.Fatalf("query: %v %v", resp, err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "queries/s")
}
