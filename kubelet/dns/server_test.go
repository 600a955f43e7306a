package dns

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
)

// fakeUpstream is a resolver on loopback (UDP and TCP) that answers every A question with
// 203.0.113.7 (a documentation address: it is only data here).
func fakeUpstream(t testing.TB) string {
	t.Helper()
	pc, l, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP("203.0.113.7")})
		_ = w.WriteMsg(m)
	})
	for _, srv := range []*dns.Server{{PacketConn: pc, Handler: handler}, {Listener: l, Handler: handler}} {
		go func() { _ = srv.ActivateAndServe() }()
		t.Cleanup(func() { _ = srv.Shutdown() })
	}
	return pc.LocalAddr().String()
}

func startServer(t testing.TB, objs ...runtime.Object) (*fake.Clientset, string) {
	t.Helper()
	client := fake.NewClientset(objs...)
	s, err := New(Config{Client: client, ListenAddr: "127.0.0.1:0", Upstreams: []string{fakeUpstream(t)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("DNS server not ready")
	}
	return client, s.Addr()
}

func query(t *testing.T, addr, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", dns.TypeToString[qtype], name, network, err)
	}
	return resp
}

// TestServer queries a running server with a DNS client over UDP and TCP.
func TestServer(t *testing.T) {
	var objs []runtime.Object
	for _, o := range testObjects() {
		objs = append(objs, o.(runtime.Object))
	}
	client, addr := startServer(t, objs...)

	tests := []struct {
		network, name string
		qtype         uint16
		rcode         int
		answer        []string
	}{
		{"udp", "echo.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"echo.default.svc.cluster.local. A 10.96.0.20"}},
		{"tcp", "echo.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"echo.default.svc.cluster.local. A 10.96.0.20"}},
		{"udp", "_http._tcp.web.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess, []string{
			"_http._tcp.web.default.svc.cluster.local. SRV 0 50 8080 web-0.web.default.svc.cluster.local.",
			"_http._tcp.web.default.svc.cluster.local. SRV 0 50 8080 10-244-0-6.web.default.svc.cluster.local.",
		}},
		{"udp", "web-0.web.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"web-0.web.default.svc.cluster.local. A 10.244.0.5"}},
		{"udp", "ext.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"ext.default.svc.cluster.local. CNAME example.org.", "example.org. A 203.0.113.7"}},
		{"udp", "missing.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil},
		{"udp", "example.org.", dns.TypeA, dns.RcodeSuccess, []string{"example.org. A 203.0.113.7"}},
		{"udp", "5.0.244.10.in-addr.arpa.", dns.TypePTR, dns.RcodeSuccess, []string{"5.0.244.10.in-addr.arpa. PTR web-0.web.default.svc.cluster.local."}},
		{"tcp", "example.org.", dns.TypeA, dns.RcodeSuccess, []string{"example.org. A 203.0.113.7"}},
	}
	for _, tt := range tests {
		t.Run(tt.network+"/"+tt.name, func(t *testing.T) {
			resp := query(t, addr, tt.network, tt.name, tt.qtype)
			if resp.Rcode != tt.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
			}
			if got := rrs(resp.Answer); !slices.Equal(got, tt.answer) {
				t.Errorf("answer %q, want %q", got, tt.answer)
			}
			if tt.rcode == dns.RcodeNameError && (len(resp.Ns) != 1 || resp.Ns[0].Header().Rrtype != dns.TypeSOA) {
				t.Errorf("NXDOMAIN without the zone's SOA: %v", resp.Ns)
			}
			if InZone(tt.name, "cluster.local") && !resp.Authoritative {
				t.Error("answer in the cluster zone is not authoritative")
			}
		})
	}

	// Answers follow the informer caches.
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "late"},
		Spec:       corev1.ServiceSpec{ClusterIP: "10.96.0.99", ClusterIPs: []string{"10.96.0.99"}},
	}
	if _, err := client.CoreV1().Services("default").Create(context.Background(), svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp := query(t, addr, "udp", "late.default.svc.cluster.local.", dns.TypeA)
		if got := rrs(resp.Answer); slices.Equal(got, []string{"late.default.svc.cluster.local. A 10.96.0.99"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("new Service not answered: %v", resp)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServerUpstreamDown answers SERVFAIL when no upstream answers.
func TestServerUpstreamDown(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	pc.Close()
	s, err := New(Config{Client: fake.NewClientset(), ListenAddr: "127.0.0.1:0", Upstreams: []string{dead}, ForwardTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	<-s.Ready()
	if resp := query(t, s.Addr(), "udp", "example.org.", dns.TypeA); resp.Rcode != dns.RcodeServerFailure {
		t.Errorf("rcode %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
}

// TestServerListensBeforeTheAddressExists: the node's DNS address lives on
// the pod bridge, which appears with the first pod; the server must start
// before it.
func TestServerListensBeforeTheAddressExists(t *testing.T) {
	s, err := New(Config{Client: fake.NewClientset(), ListenAddr: "10.253.253.1:0", Upstreams: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("not ready")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestServerNoUpstream: with forwarding off, names outside the cluster get
// SERVFAIL at once (no resolver is asked), and cluster names still answer.
func TestServerNoUpstream(t *testing.T) {
	s, err := New(Config{Client: fake.NewClientset(), ListenAddr: "127.0.0.1:0", Upstreams: []string{NoUpstream}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.cfg.Upstreams) != 0 {
		t.Fatalf("upstreams %v, want none", s.cfg.Upstreams)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Run(ctx) }()
	<-s.Ready()
	if resp := query(t, s.Addr(), "udp", "example.org.", dns.TypeA); resp.Rcode != dns.RcodeServerFailure {
		t.Errorf("example.org: rcode %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
	if resp := query(t, s.Addr(), "udp", "nothing.default.svc.cluster.local.", dns.TypeA); resp.Rcode != dns.RcodeNameError {
		t.Errorf("cluster name: rcode %s, want NXDOMAIN", dns.RcodeToString[resp.Rcode])
	}
}
