package containerd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRegistryHostsWithoutFallbackKeepsLoopbackOnly(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "docker.io"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "docker.io", "hosts.toml"), []byte(`server = "https://registry-1.docker.io"

[host."http://127.0.0.1:4000"]
  capabilities = ["pull", "resolve"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hostNames := func(fallback bool, registry string) ([]string, error) {
		hs, err := RegistryHosts(ctx, dir, fallback)(registry)
		var names []string
		for _, h := range hs {
			names = append(names, h.Scheme+"://"+h.Host)
		}
		return names, err
	}

	got, err := hostNames(true, "docker.io")
	if err != nil || strings.Join(got, " ") != "http://127.0.0.1:4000 https://registry-1.docker.io" {
		t.Errorf("docker.io with fallback: %v, %v", got, err)
	}
	got, err = hostNames(false, "docker.io")
	if err != nil || strings.Join(got, " ") != "http://127.0.0.1:4000" {
		t.Errorf("docker.io without fallback: %v, %v", got, err)
	}
	// A registry with no configuration: itself, which without fallback is
	// allowed only at a loopback address.
	if got, err := hostNames(false, "quay.io"); err == nil || !strings.Contains(err.Error(), "not mirrored") {
		t.Errorf("quay.io without fallback: %v, %v", got, err)
	}
	if got, err := hostNames(false, "localhost:5000"); err == nil {
		t.Errorf("localhost:5000 without fallback (a name, not an address): %v", got)
	}
	// (https first, then http: containerd's default for a local address.)
	if got, err := hostNames(false, "127.0.0.1:5000"); err != nil || strings.Join(got, " ") != "https://127.0.0.1:5000" {
		t.Errorf("127.0.0.1:5000 without fallback: %v, %v", got, err)
	}
	if got, err := hostNames(true, "quay.io"); err != nil || strings.Join(got, " ") != "https://quay.io" {
		t.Errorf("quay.io with fallback: %v, %v", got, err)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.0.0.1": true, "[::1]:5000": true, "127.1.2.3:80": true,
		"localhost:5000": false, "registry-1.docker.io": false, "10.0.0.1:5000": false, "0.0.0.0:5000": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
