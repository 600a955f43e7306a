package cluster

import (
	"os"
	"path/filepath"
	"testing"
)

func TestForwardingIsRestoredAsFirstFound(t *testing.T) {
	sysctl := filepath.Join(t.TempDir(), "ip_forward")
	old := ipForwardPath
	ipForwardPath = sysctl
	t.Cleanup(func() { ipForwardPath = old })
	dataDir := t.TempDir()
	write := func(v string) {
		if err := os.WriteFile(sysctl, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	read := func() string {
		b, err := os.ReadFile(sysctl)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	write("0\n")
	if err := restoreForwarding(dataDir); err != nil || read() != "0\n" {
		t.Fatalf("restore with nothing saved: %v, sysctl %q (want untouched)", err, read())
	}
	if err := saveForwarding(dataDir); err != nil {
		t.Fatal(err)
	}
	write("1\n")                                    // the bridge plugin's doing
	if err := saveForwarding(dataDir); err != nil { // a second start
		t.Fatal(err)
	}
	if err := restoreForwarding(dataDir); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "0\n" {
		t.Errorf("after reset ip_forward = %q, want the host's own 0", got)
	}
}
