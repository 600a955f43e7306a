package lbmap

import (
	"net/netip"
	"testing"
)

// The programs compare addresses and ports in network byte order: the keys
// must hold them that way and read back unchanged.
func TestKeyEncoding(t *testing.T) {
	ap := netip.MustParseAddrPort("10.96.0.10:53")
	k := NewServiceKey(ap, ProtoUDP, 3)
	if k.Addr != [4]byte{10, 96, 0, 10} || k.Port != [2]byte{0, 53} || k.Proto != 17 || k.Slot != 3 {
		t.Errorf("key %+v", k)
	}
	if k.AddrPort() != ap || k.Frontend().Slot != 0 {
		t.Errorf("round trip: %s slot %d", k.AddrPort(), k.Frontend().Slot)
	}
	b := NewBackend(netip.MustParseAddrPort("10.244.1.2:8080"), ProtoTCP)
	if b.Port != [2]byte{0x1f, 0x90} || b.AddrPort().String() != "10.244.1.2:8080" {
		t.Errorf("backend %+v", b)
	}
}
