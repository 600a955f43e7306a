// Package relay forwards TCP connections accepted on one address to another.
// `kubeseed up` uses it to serve the API server, which listens on loopback,
// at the node's address on the pod bridge too: a pod's loopback is its own,
// so the kubernetes Service's endpoint must be an address pods can route to,
// and the bridge's address is one no other host can reach without a route
// into the pod network. The relay accepts connections only from the source
// prefixes it is given (the pod range), so it adds no way onto the node.
package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
	"k8s.io/klog/v2"
)

// Config says where to listen, where to forward and whom to let in.
type Config struct {
	// Listen is the address to accept on. It may be one the node does not
	// have yet (the pod bridge gets its address when the first pod starts).
	Listen netip.AddrPort
	// Target is where each connection is forwarded (host:port).
	Target string
	// Sources are the prefixes a client's address must be in; connections
	// from elsewhere are closed at once. Empty lets nobody in.
	Sources []netip.Prefix
}

// Relay is a listening forwarder; Run serves it.
type Relay struct {
	cfg Config
	l   net.Listener
}

// New listens on cfg.Listen.
func New(cfg Config) (*Relay, error) {
	if !cfg.Listen.IsValid() || cfg.Target == "" {
		return nil, errors.New("relay: Listen and Target are required")
	}
	l, err := listen(cfg.Listen.String())
	if err != nil {
		return nil, fmt.Errorf("relay: listening on %s: %w", cfg.Listen, err)
	}
	return &Relay{cfg: cfg, l: l}, nil
}

// listen binds with IP_FREEBIND, so the address need not exist yet.
func listen(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	return lc.Listen(context.Background(), "tcp4", addr)
}

// Addr is the address the relay accepts on.
func (r *Relay) Addr() net.Addr { return r.l.Addr() }

// Run forwards connections until ctx ends, then closes the listener and
// every connection in flight and returns nil; it returns an error only
// when accepting fails otherwise.
func (r *Relay) Run(ctx context.Context) error {
	log := klog.FromContext(ctx).WithName("relay")
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]struct{}{}
	)
	track := func(c net.Conn, add bool) bool {
		mu.Lock()
		defer mu.Unlock()
		if add {
			if ctx.Err() != nil {
				return false
			}
			conns[c] = struct{}{}
		} else {
			delete(conns, c)
		}
		return true
	}
	stopped := context.AfterFunc(ctx, func() {
		r.l.Close()
		mu.Lock()
		defer mu.Unlock()
		for c := range conns {
			c.Close()
		}
	})
	defer stopped()
	log.Info("Relaying", "listen", r.l.Addr().String(), "target", r.cfg.Target, "sources", r.cfg.Sources)
	var err error
	for {
		var c net.Conn
		c, err = r.l.Accept()
		if err != nil {
			break
		}
		if !r.allowed(c.RemoteAddr()) {
			log.V(2).Info("Refusing a connection from outside the allowed sources", "remote", c.RemoteAddr())
			c.Close()
			continue
		}
		if !track(c, true) {
			c.Close()
			break
		}
		wg.Go(func() {
			defer track(c, false)
			r.forward(ctx, c, track)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("relay: accepting on %s: %w", r.cfg.Listen, err)
}

func (r *Relay) allowed(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return false
	}
	ip = ip.Unmap()
	for _, p := range r.cfg.Sources {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// forward copies both ways between the client and a new connection to the
// target until both directions are done, passing on each side's end of
// writing as a half-close, so neither side sees its stream cut short.
func (r *Relay) forward(ctx context.Context, client net.Conn, track func(net.Conn, bool) bool) {
	defer client.Close()
	var d net.Dialer
	target, err := d.DialContext(ctx, "tcp", r.cfg.Target)
	if err != nil {
		klog.FromContext(ctx).V(2).Info("Relay target unreachable", "target", r.cfg.Target, "err", err)
		return
	}
	if !track(target, true) {
		target.Close()
		return
	}
	defer track(target, false)
	defer target.Close()
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		} else {
			dst.Close()
		}
	}
	wg.Add(2)
	go pipe(target, client)
	go pipe(client, target)
	wg.Wait()
}
