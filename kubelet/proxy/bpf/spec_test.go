package bpf

import (
	"testing"

	"github.com/cilium/ebpf"
)

// TestCommittedObject checks the committed object holds every program for
// its hook and the maps the loader pins, so a stale or truncated .o fails
// here and not on a node.
func TestCommittedObject(t *testing.T) {
	spec, err := LoadLb()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ebpf.AttachType{
		"kubeseed_connect4": ebpf.AttachCGroupInet4Connect, "kubeseed_sendmsg4": ebpf.AttachCGroupUDP4Sendmsg,
		"kubeseed_recvmsg4": ebpf.AttachCGroupUDP4Recvmsg, "kubeseed_getpeername4": ebpf.AttachCgroupInet4GetPeername,
		"kubeseed_connect6": ebpf.AttachCGroupInet6Connect, "kubeseed_sendmsg6": ebpf.AttachCGroupUDP6Sendmsg,
		"kubeseed_recvmsg6": ebpf.AttachCGroupUDP6Recvmsg, "kubeseed_getpeername6": ebpf.AttachCgroupInet6GetPeername,
	}
	for name, at := range want {
		p, ok := spec.Programs[name]
		if !ok {
			t.Errorf("program %s missing", name)
			continue
		}
		if p.Type != ebpf.CGroupSockAddr || p.AttachType != at {
			t.Errorf("program %s: type %v attach %v, want CGroupSockAddr %v", name, p.Type, p.AttachType, at)
		}
	}
	for _, name := range mapNames() {
		if _, ok := spec.Maps[name]; !ok {
			t.Errorf("map %s missing", name)
		}
	}
	for _, v := range []string{"host_netns_cookie", "service_net", "service_mask"} {
		if _, ok := spec.Variables[v]; !ok {
			t.Errorf("variable %s missing", v)
		}
	}
}
