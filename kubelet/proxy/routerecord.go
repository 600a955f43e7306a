package proxy

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf"
)

// routeRecordPin names a one-entry array map pinned next to the programs
// that records the service CIDR whose route the Proxy installed, so that
// Cleanup(pinPath) removes exactly that route (a bpf filesystem holds no
// plain files). The value is the prefix's four address bytes and its length.
const routeRecordPin = "kubeseed_route"

func recordRoute(pinPath string, cidr netip.Prefix) error {
	path := filepath.Join(pinPath, routeRecordPin)
	m, err := ebpf.LoadPinnedMap(path, nil)
	if errors.Is(err, os.ErrNotExist) {
		m, err = ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 8, MaxEntries: 1})
		if err == nil {
			if err = m.Pin(path); err != nil {
				m.Close()
			}
		}
	}
	if err != nil {
		return fmt.Errorf("recording the service CIDR route: %w", err)
	}
	defer m.Close()
	a := cidr.Masked().Addr().As4()
	v := [8]byte{a[0], a[1], a[2], a[3], byte(cidr.Bits())}
	if err := m.Put(uint32(0), v); err != nil {
		return fmt.Errorf("recording the service CIDR route: %w", err)
	}
	return nil
}

func recordedRoute(pinPath string) (netip.Prefix, bool, error) {
	m, err := ebpf.LoadPinnedMap(filepath.Join(pinPath, routeRecordPin), nil)
	if errors.Is(err, os.ErrNotExist) {
		return netip.Prefix{}, false, nil
	}
	if err != nil {
		return netip.Prefix{}, false, fmt.Errorf("reading the recorded service CIDR: %w", err)
	}
	defer m.Close()
	var v [8]byte
	if err := m.Lookup(uint32(0), &v); err != nil {
		return netip.Prefix{}, false, fmt.Errorf("reading the recorded service CIDR: %w", err)
	}
	if v[4] == 0 {
		return netip.Prefix{}, false, nil
	}
	return netip.PrefixFrom(netip.AddrFrom4([4]byte(v[:4])), int(v[4])), true, nil
}
