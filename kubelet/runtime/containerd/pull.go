package containerd

import (
	"context"
	"fmt"
	"net"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/remotes/docker/config"
)

// RegistryHosts is where pulls of each registry go: the hosts.toml files
// under hostsDir, read at every pull as containerd's CRI reads its
// config_path (the node's mirror first for the mirrored registries), then
// the registry itself. Without fallback only hosts at loopback IP addresses
// are kept, so a pull never dials, nor even looks up, a remote name.
func RegistryHosts(ctx context.Context, hostsDir string, fallback bool) docker.RegistryHosts {
	hosts := config.ConfigureHosts(ctx, config.HostOptions{HostDir: config.HostDirFromRoot(hostsDir)})
	if fallback {
		return hosts
	}
	return func(registry string) ([]docker.RegistryHost, error) {
		all, err := hosts(registry)
		if err != nil {
			return nil, err
		}
		var local []docker.RegistryHost
		for _, h := range all {
			if isLoopback(h.Host) {
				local = append(local, h)
			}
		}
		if len(local) == 0 {
			return nil, fmt.Errorf("registry %s is not mirrored on this node and pulls from remote registries are off (registry fallback disabled)", registry)
		}
		return local, nil
	}
}

// isLoopback reports whether a registry host (host or host:port) is a
// loopback IP address. Names, even localhost, do not count: resolving them
// could ask a DNS server.
func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
