package proxy

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/kubeseed/kubeseed/kubelet/proxy/bpf"
	"github.com/kubeseed/kubeseed/kubelet/proxy/model"
)

func loadDatapath(t *testing.T, pin string) (*bpf.Datapath, *syncer) {
	t.Helper()
	dp, err := bpf.Load(pin, netip.MustParsePrefix(testServiceCIDR))
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSyncer(mapsOf(dp))
	if err != nil {
		dp.Close()
		t.Fatal(err)
	}
	return dp, s
}

func svcModel(name string, vip string, port uint16, affinity time.Duration, proto model.Protocol, backendPort uint16, ips ...string) *model.Service {
	p := model.Port{Frontend: model.Frontend{IP: netip.MustParseAddr(vip), Port: port, Protocol: proto}}
	for _, ip := range ips {
		p.Backends = append(p.Backends, model.Backend{IP: netip.MustParseAddr(ip), Port: backendPort, Ready: true})
	}
	return &model.Service{Name: model.ServiceName{Namespace: "default", Name: name}, Ports: []model.Port{p}, AffinityTimeout: affinity}
}

// TestDatapath drives the programs through the syncer, without an API server:
// real sockets in a test cgroup connect to service addresses.
func TestDatapath(t *testing.T) {
	requireRoot(t)
	pin := testBPFFS(t)
	cg := testCgroup(t)
	t.Cleanup(func() {
		if err := bpf.Unpin(pin); err != nil {
			t.Error(err)
		}
	})
	port := backends(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")

	dp, s := loadDatapath(t, pin)
	const vip = "10.127.0.10"
	vipAddr := vip + ":80"
	must(t, s.Replace([]*model.Service{
		{Name: model.ServiceName{Namespace: "default", Name: "echo"}, Ports: []model.Port{
			svcModel("", vip, 80, 0, model.TCP, port, "127.0.0.2", "127.0.0.3", "127.0.0.4").Ports[0],
			svcModel("", vip, 80, 0, model.UDP, port, "127.0.0.2", "127.0.0.3", "127.0.0.4").Ports[0],
		}},
		svcModel("empty", "10.127.0.11", 80, 0, model.TCP, port),
		svcModel("sticky", "10.127.0.12", 80, time.Hour, model.TCP, port, "127.0.0.2", "127.0.0.3", "127.0.0.4"),
	}))
	if err := dp.Attach(cg); err != nil {
		t.Fatal(err)
	}

	t.Run("TCP spreads across backends, peer is the service", func(t *testing.T) {
		got := tally(t, request(t, cg, "tcp", vipAddr, 30), vipAddr)
		if len(got) < 2 {
			t.Errorf("30 connections reached %v: want at least two backends", got)
		}
	})
	t.Run("dual-stack socket to an IPv4-mapped service address", func(t *testing.T) {
		got := tally(t, request(t, cg, "tcp6", vipAddr, 20), vipAddr)
		if len(got) < 2 {
			t.Errorf("20 connections reached %v: want at least two backends", got)
		}
	})
	t.Run("UDP replies come from the service", func(t *testing.T) {
		got := tally(t, request(t, cg, "udp", vipAddr, 30), vipAddr)
		if len(got) < 2 {
			t.Errorf("30 sockets reached %v: want at least two backends", got)
		}
		tally(t, request(t, cg, "udp6", vipAddr, 5), vipAddr)
	})
	t.Run("UDP datagrams of one socket stay with one backend", func(t *testing.T) {
		if got := tally(t, request(t, cg, "udp-one-socket", vipAddr, 20), vipAddr); len(got) != 1 {
			t.Errorf("one socket's datagrams reached %v: want one backend", got)
		}
	})
	t.Run("no backends refuses at once", func(t *testing.T) {
		start := time.Now()
		lines := request(t, cg, "tcp", "10.127.0.11:80", 3)
		for _, l := range lines {
			if !strings.Contains(l, "connection refused") {
				t.Errorf("got %q, want connection refused", l)
			}
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("refusal took %v", d)
		}
	})
	t.Run("a service CIDR address that is no frontend refuses", func(t *testing.T) {
		for _, mode := range []string{"tcp", "udp"} {
			if l := request(t, cg, mode, "10.127.0.10:81", 1)[0]; !strings.Contains(l, "connection refused") {
				t.Errorf("%s to an unknown port of a cluster IP: got %q, want connection refused", mode, l)
			}
		}
	})
	t.Run("session affinity keeps a client on one backend", func(t *testing.T) {
		if got := tally(t, request(t, cg, "tcp", "10.127.0.12:80", 20), "10.127.0.12:80"); len(got) != 1 {
			t.Errorf("20 connections reached %v: want one backend", got)
		}
	})
	t.Run("updates apply", func(t *testing.T) {
		must(t, s.Upsert(svcModel("empty", "10.127.0.11", 80, 0, model.TCP, port, "127.0.0.4")))
		if got := tally(t, request(t, cg, "tcp", "10.127.0.11:80", 5), "10.127.0.11:80"); got["127.0.0.4"] != 5 {
			t.Errorf("got %v, want all on 127.0.0.4", got)
		}
		must(t, s.Upsert(svcModel("sticky", "10.127.0.12", 80, time.Hour, model.TCP, port, "127.0.0.3")))
		if got := tally(t, request(t, cg, "tcp", "10.127.0.12:80", 5), "10.127.0.12:80"); got["127.0.0.3"] != 5 {
			t.Errorf("after the sticky backend went away got %v, want all on 127.0.0.3", got)
		}
		must(t, s.Delete(model.ServiceName{Namespace: "default", Name: "empty"}))
		for _, l := range request(t, cg, "tcp", "10.127.0.11:80", 1) {
			if !strings.HasPrefix(l, "error") {
				t.Errorf("deleted service still answers: %q", l)
			}
		}
	})
	t.Run("routing survives the process and a new one adopts the pins", func(t *testing.T) {
		must(t, dp.Close())
		tally(t, request(t, cg, "tcp", vipAddr, 5), vipAddr)

		dp2, s2 := loadDatapath(t, pin)
		defer dp2.Close()
		if n := len(s2.frontends); n != 3 {
			t.Errorf("adopted %d frontends, want 3", n)
		}
		// The adopted state is the written one: no flapping on restart.
		for fk, fs := range s.frontends {
			if got := s2.frontends[fk]; got == nil || got.svcID != fs.svcID || !equalIDs(got.backends, fs.backends) || got.affinity != fs.affinity {
				t.Errorf("frontend %v adopted as %+v, was %+v", fk, got, fs)
			}
		}
		if err := dp2.Attach(cg); err != nil {
			t.Fatal(err)
		}
		must(t, s2.Replace([]*model.Service{svcModel("echo", vip, 80, 0, model.TCP, port, "127.0.0.2")}))
		if got := tally(t, request(t, cg, "tcp", vipAddr, 5), vipAddr); got["127.0.0.2"] != 5 {
			t.Errorf("got %v, want all on 127.0.0.2", got)
		}
		slots, err := s2.m.Slots()
		must(t, err)
		if len(slots) != 2 {
			t.Errorf("maps hold %d slots after the full sync, want 2 (one frontend, one backend): %v", len(slots), slots)
		}
		bes, err := s2.m.AllBackends()
		must(t, err)
		if len(bes) != 1 {
			t.Errorf("maps hold %d backends, want 1", len(bes))
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestSyncerOwnership: a cluster IP handed from a deleted Service to a new
// one survives the old Service's delete event arriving last.
func TestSyncerOwnership(t *testing.T) {
	requireRoot(t)
	pin := testBPFFS(t)
	t.Cleanup(func() { _ = bpf.Unpin(pin) })
	dp, s := loadDatapath(t, pin)
	defer dp.Close()
	must(t, s.Upsert(svcModel("old", "10.127.0.30", 80, 0, model.TCP, 8080, "10.244.0.2")))
	must(t, s.Upsert(svcModel("new", "10.127.0.30", 80, 0, model.TCP, 8080, "10.244.0.3", "10.244.0.4")))
	must(t, s.Delete(model.ServiceName{Namespace: "default", Name: "old"}))
	slots, err := s.m.Slots()
	must(t, err)
	bes, err := s.m.AllBackends()
	must(t, err)
	if len(slots) != 3 || len(bes) != 2 {
		t.Errorf("maps hold %d slots and %d backends, want the new service's 3 and 2", len(slots), len(bes))
	}
	for k, v := range slots {
		if k.Slot == 0 && v.Count != 2 {
			t.Errorf("frontend count %d, want 2", v.Count)
		}
	}
}
