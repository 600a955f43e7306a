package network

import (
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestEnsureBridge(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a bridge")
	}
	const name = "kstbridge0"
	t.Cleanup(func() { _ = exec.Command("ip", "link", "del", name).Run() })
	// Twice: the second call finds everything in place.
	for range 2 {
		if err := EnsureBridge(name, "10.246.250.0/24"); err != nil {
			t.Fatal(err)
		}
	}
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if ifc.Flags&net.FlagUp == 0 {
		t.Errorf("bridge %s is not up", name)
	}
	addrs, _ := ifc.Addrs()
	var v4 []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			v4 = append(v4, a.String())
		}
	}
	if len(v4) != 1 || v4[0] != "10.246.250.1/24" {
		t.Errorf("bridge IPv4 addresses = %v, want [10.246.250.1/24]", v4)
	}
	out, err := exec.Command("ip", "-d", "link", "show", name).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "bridge ") {
		t.Errorf("%s is not a bridge: %s %v", name, out, err)
	}
	// The node's address on it is local from now on.
	l, err := net.Listen("tcp4", "10.246.250.1:0")
	if err != nil {
		t.Fatalf("listening on the bridge address: %v", err)
	}
	c, err := net.Dial("tcp4", l.Addr().String())
	if err != nil {
		t.Fatalf("connecting to the bridge address: %v", err)
	}
	c.Close()
	l.Close()
	if err := EnsureBridge(name, "not-a-cidr"); err == nil {
		t.Error("a bad pod CIDR was accepted")
	}
}
