package registry

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
)

// DefaultMirrored are the registries whose pulls go to the mirror first.
var DefaultMirrored = []string{"docker.io", "registry.k8s.io"}

// hostsMarker opens every hosts.toml this package writes, so it can tell
// its own files (rewritten at each start, as the mirror's port may change)
// from the ones a user wrote for other registries (left alone).
const hostsMarker = "# Written by the kubeseed node agent"

// WriteHostsConfig writes containerd's registry host configuration (the
// hosts.toml layout containerd's CRI reads from its config_path) under dir:
// for each registry, mirrorURL first, then the registry itself. A
// hosts.toml this function wrote earlier for a registry no longer listed is
// removed; other directories under dir are the user's and are kept.
func WriteHostsConfig(dir, mirrorURL string, registries []string) error {
	want := map[string]bool{}
	for _, reg := range registries {
		host, err := registryHost(reg)
		if err != nil {
			return err
		}
		want[host] = true
		d := filepath.Join(dir, hostDirectory(host))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		path := filepath.Join(d, "hosts.toml")
		if err := writeFileAtomic(path, []byte(hostsTOML(host, mirrorURL))); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	old, err := filepath.Glob(filepath.Join(dir, "*", "hosts.toml"))
	if err != nil {
		return err
	}
	for _, path := range old {
		b, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(b, []byte(hostsMarker)) {
			continue
		}
		if host := filepath.Base(filepath.Dir(path)); !want[host] && !want[hostFromDirectory(host)] {
			if err := os.Remove(path); err != nil {
				return err
			}
			_ = os.Remove(filepath.Dir(path))
		}
	}
	return nil
}

// hostsTOML is the configuration of one mirrored registry: the mirror for
// pull and resolve (never push), then the registry's own server.
func hostsTOML(host, mirrorURL string) string {
	server := "https://" + host
	if host == "docker.io" {
		server = "https://registry-1.docker.io"
	}
	return fmt.Sprintf(`%s at each start: pulls of %s try the
# node's registry mirror (the images of this node's containerd) first, then the
# registry itself. The agent contacts no registry outside this machine while
# its registry fallback is off (--registry-fallback=false).
server = %q

[host.%q]
  capabilities = ["pull", "resolve"]
`, hostsMarker, host, server, mirrorURL)
}

// registryHost checks a registry name as image references spell it
// (docker.io, registry.k8s.io, localhost:5000).
func registryHost(reg string) (string, error) {
	named, err := reference.ParseNormalizedNamed(reg + "/x")
	if err != nil || reference.Domain(named) != reg {
		return "", fmt.Errorf("invalid registry %q (want a host as image names spell it, e.g. docker.io)", reg)
	}
	return reg, nil
}

// hostDirectory is containerd's directory name for a host: host:port is
// spelled host_port_ on disk.
func hostDirectory(host string) string {
	if i := strings.LastIndex(host, ":"); i > 0 {
		return host[:i] + "_" + host[i+1:] + "_"
	}
	return host
}

func hostFromDirectory(dir string) string {
	if s, ok := strings.CutSuffix(dir, "_"); ok {
		if i := strings.LastIndex(s, "_"); i > 0 {
			return s[:i] + ":" + s[i+1:]
		}
	}
	return dir
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(err, os.Remove(tmp))
	}
	return nil
}
