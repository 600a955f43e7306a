package network

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
)

// DefaultBridge is the pod bridge's name when none is given.
const DefaultBridge = "kubeseed0"

// EnsureBridge creates the pod bridge with the node's address on it (the
// first address of podCIDR, the gateway the CNI bridge plugin gives it) and
// brings it up, keeping whatever of it is there already. Left to the plugin,
// the bridge appears at the first pod; until then the node's address on it,
// where the node-local DNS listens and the kubernetes Service's endpoint is,
// is not local, and the node's own connections to those Services would
// follow the default route off the machine. The plugin adopts the bridge
// as it finds it.
func EnsureBridge(name, podCIDR string) error {
	if name == "" {
		name = DefaultBridge
	}
	p, err := netip.ParsePrefix(podCIDR)
	if err != nil || !p.Addr().Is4() {
		return fmt.Errorf("pod CIDR %q is not an IPv4 prefix", podCIDR)
	}
	gw := netip.PrefixFrom(p.Masked().Addr().Next(), p.Bits())
	if _, err := net.InterfaceByName(name); err != nil {
		if err := ip("link", "add", "name", name, "type", "bridge"); err != nil {
			return fmt.Errorf("creating the pod bridge %s: %w", name, err)
		}
	}
	// replace adds the address or keeps it: an existing bridge may have it.
	if err := ip("addr", "replace", gw.String(), "dev", name); err != nil {
		return fmt.Errorf("giving the pod bridge %s the address %s: %w", name, gw, err)
	}
	if err := ip("link", "set", name, "up"); err != nil {
		return fmt.Errorf("bringing the pod bridge %s up: %w", name, err)
	}
	return nil
}

func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
