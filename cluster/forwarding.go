package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// The CNI bridge plugin (isGateway) turns on IPv4 forwarding for the whole
// host, as every Kubernetes node needs. `kubeseed up` notes the host's own
// value in the data dir the first time, and `kubeseed reset` puts it back, so
// a removed cluster leaves the host's sysctls as it found them.

// ipForwardPath is the sysctl; a variable so tests use a file of their own.
var ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

func savedForwardingPath(dataDir string) string {
	return filepath.Join(dataDir, "host", "ip_forward")
}

// saveForwarding records the host's ip_forward once per data dir: later
// starts find it already on, which is the cluster's doing, not the host's.
func saveForwarding(dataDir string) error {
	saved := savedForwardingPath(dataDir)
	if _, err := os.Stat(saved); err == nil {
		return nil
	}
	v, err := os.ReadFile(ipForwardPath)
	if err != nil {
		return fmt.Errorf("reading %s: %w", ipForwardPath, err)
	}
	if err := os.MkdirAll(filepath.Dir(saved), 0o700); err != nil {
		return err
	}
	return os.WriteFile(saved, bytes.TrimSpace(v), 0o600)
}

// restoreForwarding writes the recorded value back; a data dir without one
// (never started, or made by an older kubeseed) changes nothing.
func restoreForwarding(dataDir string) error {
	v, err := os.ReadFile(savedForwardingPath(dataDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if v = bytes.TrimSpace(v); string(v) != "0" && string(v) != "1" {
		return fmt.Errorf("saved ip_forward %q is not 0 or 1", v)
	}
	if err := os.WriteFile(ipForwardPath, append(v, '\n'), 0o644); err != nil {
		return fmt.Errorf("restoring %s: %w", ipForwardPath, err)
	}
	return nil
}
