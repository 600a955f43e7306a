package proxy

import (
	"net/netip"
	"os"
	"strconv"
	"testing"

	"github.com/kubeseed/kubeseed/kubelet/proxy/bpf"
	"github.com/kubeseed/kubeseed/kubelet/proxy/model"
)

// manyServices returns n services with one TCP port and per endpoints each,
// all distinct addresses, as a large cluster's node would see them.
func manyServices(n, per int) []*model.Service {
	out := make([]*model.Service, 0, n)
	for i := range n {
		vip := netip.AddrFrom4([4]byte{10, 96 + byte(i>>16), byte(i >> 8), byte(i)})
		p := model.Port{Name: "http", Frontend: model.Frontend{IP: vip, Port: 80, Protocol: model.TCP}}
		for j := range per {
			k := i*per + j
			p.Backends = append(p.Backends, model.Backend{IP: netip.AddrFrom4([4]byte{10, 244 + byte(k>>16), byte(k >> 8), byte(k)}), Port: 8080, Ready: true})
		}
		out = append(out, &model.Service{Name: model.ServiceName{Namespace: "bench", Name: vip.String()}, Ports: []model.Port{p}})
	}
	return out
}

func benchDatapath(b *testing.B) (string, func() (*bpf.Datapath, *syncer)) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: loads BPF maps")
	}
	pin := testBPFFS(b)
	load := func() (*bpf.Datapath, *syncer) {
		dp, err := bpf.Load(pin, netip.MustParsePrefix(testServiceCIDR))
		if err != nil {
			b.Fatal(err)
		}
		s, err := newSyncer(mapsOf(dp))
		if err != nil {
			b.Fatal(err)
		}
		return dp, s
	}
	b.Cleanup(func() { _ = bpf.Unpin(pin) })
	return pin, load
}

// BenchmarkFullSync programs 10k services x 10 endpoints into empty maps, as a
// node agent starting on a large cluster does (goal: under 1 s).
func BenchmarkFullSync(b *testing.B) {
	pin, load := benchDatapath(b)
	svcs := manyServices(10000, 10)
	for b.Loop() {
		b.StopTimer()
		if err := bpf.Unpin(pin); err != nil {
			b.Fatal(err)
		}
		dp, s := load()
		b.StartTimer()
		if err := s.Replace(svcs); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		dp.Close()
		b.StartTimer()
	}
}

// BenchmarkOneChange applies one endpoint change to one service in the 10k x
// 10 state (goal: under 1 ms).
func BenchmarkOneChange(b *testing.B) {
	_, load := benchDatapath(b)
	dp, s := load()
	defer dp.Close()
	svcs := manyServices(10000, 10)
	if err := s.Replace(svcs); err != nil {
		b.Fatal(err)
	}
	a, c := *svcs[5000], *svcs[5000]
	a.Ports = []model.Port{svcs[5000].Ports[0]}
	c.Ports = []model.Port{svcs[5000].Ports[0]}
	c.Ports[0].Backends = append([]model.Backend{}, a.Ports[0].Backends...)
	c.Ports[0].Backends[3].IP = netip.MustParseAddr("10.250.0.1")
	i := 0
	for b.Loop() {
		next := &a
		if i%2 == 0 {
			next = &c
		}
		i++
		if err := s.Upsert(next); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVIPOverhead compares connect+request+reply through a service
// address with the same to the backend directly, in one run (goal: < 2%
// overhead). Clients run in the test cgroup; the ratio is reported as
// vip/direct.
func BenchmarkVIPOverhead(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: loads BPF programs")
	}
	pin := testBPFFS(b)
	cg := testCgroup(b)
	b.Cleanup(func() { _ = bpf.Unpin(pin) })
	port := backends(b, "127.0.0.2")
	dp, err := bpf.Load(pin, netip.MustParsePrefix(testServiceCIDR))
	if err != nil {
		b.Fatal(err)
	}
	defer dp.Close()
	s, err := newSyncer(mapsOf(dp))
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Replace([]*model.Service{svcModel("echo", "10.127.0.40", 80, 0, model.TCP, port, "127.0.0.2")}); err != nil {
		b.Fatal(err)
	}
	if err := dp.Attach(cg); err != nil {
		b.Fatal(err)
	}
	direct := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), port).String()
	var vipNs, directNs float64
	for b.Loop() {
		// Alternate so that both see the same machine load.
		for range 5 {
			vipNs += parseNs(b, request(b, cg, "latency", "10.127.0.40:80", 500))
			directNs += parseNs(b, request(b, cg, "latency", direct, 500))
		}
	}
	b.ReportMetric(vipNs/float64(5*b.N), "vip-ns/req")
	b.ReportMetric(directNs/float64(5*b.N), "direct-ns/req")
	b.ReportMetric(vipNs/directNs, "vip/direct")
}

func parseNs(b *testing.B, lines []string) float64 {
	v, err := strconv.ParseFloat(lines[0], 64)
	if err != nil {
		b.Fatalf("client: %q", lines)
	}
	return v
}
