package containerd

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/core/remotes/docker/config"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// RegistryHosts is where pulls of each registry go: the hosts.toml files
// under hostsDir, read at every pull as containerd's CRI reads its
// config_path (the node's mirror first for the mirrored registries), then
// the registry itself. Without fallback only hosts at loopback IP addresses
// are kept, so a pull never dials, nor even looks up, a remote name. The
// pulls are anonymous: PullHosts gives credentials.
func RegistryHosts(ctx context.Context, hostsDir string, fallback bool) docker.RegistryHosts {
	return registryHosts(ctx, hostsDir, fallback, nil)
}

// PullHosts is RegistryHosts for a pull of an image of registry with auth.
// The credentials go only to the hosts configured for registry (its mirrors
// in hosts.toml and its server), and to a host only once it challenged the
// request (a 401 with WWW-Authenticate), as containerd's authorizer does: the
// node's own mirror, which asks for none, never receives them, and hosts of
// any other registry get an anonymous pull.
func PullHosts(ctx context.Context, hostsDir string, fallback bool, registry string, auth *kruntime.Auth) docker.RegistryHosts {
	hosts, _ := pullHosts(ctx, hostsDir, fallback, registry, auth)
	return hosts
}

// pullHosts is PullHosts, with a report of whether the credentials were
// presented to a host (nil without auth).
func pullHosts(ctx context.Context, hostsDir string, fallback bool, registry string, auth *kruntime.Auth) (docker.RegistryHosts, func() bool) {
	if auth == nil {
		return RegistryHosts(ctx, hostsDir, fallback), nil
	}
	c := &hostCredentials{registry: registry, auth: *auth, allowed: map[string]bool{}}
	return c.track(registryHosts(ctx, hostsDir, fallback, c.credentials)), c.presented.Load
}

func registryHosts(ctx context.Context, hostsDir string, fallback bool, credentials func(host string) (string, string, error)) docker.RegistryHosts {
	if credentials == nil {
		// Without credentials a Basic challenge fails naming what is
		// missing ("no basic auth credentials"), not as "not implemented".
		credentials = func(string) (string, string, error) { return "", "", nil }
	}
	hosts := config.ConfigureHosts(ctx, config.HostOptions{HostDir: config.HostDirFromRoot(hostsDir), Credentials: credentials})
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

// hostCredentials answers containerd's authorizer, which asks by the host
// that challenged (host:port), with the credentials of one registry for the
// hosts that registry's configuration named, and nothing for any other.
type hostCredentials struct {
	registry string
	auth     kruntime.Auth

	mu      sync.Mutex
	allowed map[string]bool
	// presented is whether a host was given the credentials.
	presented atomic.Bool
}

// track records the hosts of c.registry as the resolver looks them up
// (before it contacts any of them).
func (c *hostCredentials) track(hosts docker.RegistryHosts) docker.RegistryHosts {
	return func(registry string) ([]docker.RegistryHost, error) {
		hs, err := hosts(registry)
		if err == nil && registry == c.registry {
			c.mu.Lock()
			for _, h := range hs {
				c.allowed[h.Host] = true
			}
			c.mu.Unlock()
		}
		return hs, err
	}
}

func (c *hostCredentials) credentials(host string) (string, string, error) {
	c.mu.Lock()
	ok := c.allowed[host]
	c.mu.Unlock()
	if !ok {
		return "", "", nil
	}
	c.presented.Store(true)
	return c.auth.Username, c.auth.Password, nil
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

// pullGroup coalesces the pulls of each key (an image and the identity of
// its credentials) without weakening imagePullPolicy Always: a call never
// joins a pull that started before it (its answer could predate a moved
// tag), only the next one, which starts when the pull in flight ends and
// serves every call that arrived meanwhile. Every caller gets a resolution
// made after it asked; a burst costs at most two pulls.
type pullGroup struct {
	mu     sync.Mutex
	images map[string]*pullQueue
}

type pullQueue struct {
	// next collects the calls that arrived while a pull ran.
	next *pullCall
}

type pullCall struct {
	pull func() (kruntime.Image, error)
	done chan struct{}
	img  kruntime.Image
	err  error
}

func (g *pullGroup) do(ctx context.Context, key string, pull func() (kruntime.Image, error)) (kruntime.Image, error) {
	g.mu.Lock()
	if g.images == nil {
		g.images = map[string]*pullQueue{}
	}
	var call *pullCall
	if q := g.images[key]; q != nil {
		if q.next == nil {
			q.next = &pullCall{pull: pull, done: make(chan struct{})}
		}
		call = q.next
	} else {
		call = &pullCall{pull: pull, done: make(chan struct{})}
		g.images[key] = &pullQueue{}
		go g.run(key, call)
	}
	g.mu.Unlock()
	select {
	case <-call.done:
		return call.img, call.err
	case <-ctx.Done():
		return kruntime.Image{}, ctx.Err()
	}
}

// run pulls for call, then for the calls that queued meanwhile, until none
// is left.
func (g *pullGroup) run(key string, call *pullCall) {
	for call != nil {
		call.img, call.err = call.pull()
		close(call.done)
		g.mu.Lock()
		q := g.images[key]
		call, q.next = q.next, nil
		if call == nil {
			delete(g.images, key)
		}
		g.mu.Unlock()
	}
}
