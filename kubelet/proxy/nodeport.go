package proxy

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/kubeseed/kubeseed/kubelet/proxy/model"
)

// nodePorts forwards TCP connections that arrive at the node's NodePorts
// from other machines. The socket programs cannot serve those: such packets
// never pass a local socket's connect. A tc program could rewrite them in the
// kernel but would need its own connection tracking and source NAT for the
// replies; a listener that dials the backend gets both from the kernel's TCP
// stack, at the cost of a copy in user space, and backends see the node's
// address as the client (what upstream's externalTrafficPolicy Cluster does
// too, through SNAT). Clients on the node itself never reach these listeners:
// the programs rewrite their connects to node addresses and 127.0.0.1.
// UDP NodePorts from other machines are not forwarded.
type nodePorts struct {
	log   logr.Logger
	addrs []netip.Addr // where to listen; empty means every address

	mu        sync.Mutex
	byService map[model.ServiceName]map[uint16][]netip.AddrPort
	listeners map[uint16]*nodePortListener
}

type nodePortListener struct {
	listeners []net.Listener
	mu        sync.Mutex
	backends  []netip.AddrPort
}

func newNodePorts(log logr.Logger, addrs []netip.Addr) *nodePorts {
	return &nodePorts{log: log, addrs: addrs, byService: map[model.ServiceName]map[uint16][]netip.AddrPort{}, listeners: map[uint16]*nodePortListener{}}
}

// Set records a service's TCP node ports (nil svc: none) and opens or closes
// listeners to match.
func (n *nodePorts) Set(name model.ServiceName, svc *model.Service) {
	ports := map[uint16][]netip.AddrPort{}
	if svc != nil {
		for _, p := range svc.Ports {
			if p.NodePort == 0 || p.Frontend.Protocol != model.TCP {
				continue
			}
			for _, b := range p.NodePortBackends {
				ports[p.NodePort] = append(ports[p.NodePort], b.AddrPort())
			}
			if _, ok := ports[p.NodePort]; !ok {
				ports[p.NodePort] = nil
			}
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(ports) == 0 {
		delete(n.byService, name)
	} else {
		n.byService[name] = ports
	}
	want := map[uint16][]netip.AddrPort{}
	for _, ps := range n.byService {
		for port, bs := range ps {
			want[port] = append(want[port], bs...)
		}
	}
	for port, l := range n.listeners {
		if _, ok := want[port]; !ok {
			l.close()
			delete(n.listeners, port)
		}
	}
	for port, bs := range want {
		l, ok := n.listeners[port]
		if !ok {
			var err error
			if l, err = n.listen(port); err != nil {
				n.log.Error(err, "Opening NodePort listener", "port", port)
				continue
			}
			n.listeners[port] = l
		}
		l.mu.Lock()
		l.backends = bs
		l.mu.Unlock()
	}
}

// Close closes every listener.
func (n *nodePorts) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for port, l := range n.listeners {
		l.close()
		delete(n.listeners, port)
	}
}

func (n *nodePorts) listen(port uint16) (*nodePortListener, error) {
	addrs := n.addrs
	if len(addrs) == 0 {
		addrs = []netip.Addr{netip.IPv4Unspecified()}
	}
	l := &nodePortListener{}
	for _, a := range addrs {
		ln, err := net.Listen("tcp4", net.JoinHostPort(a.String(), strconv.Itoa(int(port))))
		if err != nil {
			l.close()
			return nil, err
		}
		l.listeners = append(l.listeners, ln)
		go l.serve(n.log, ln)
	}
	return l, nil
}

func (l *nodePortListener) close() {
	for _, ln := range l.listeners {
		ln.Close()
	}
}

func (l *nodePortListener) serve(log logr.Logger, ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				log.Error(err, "Accepting NodePort connection", "addr", ln.Addr())
			}
			return
		}
		go l.forward(c)
	}
}

// forward connects the client to a random backend and copies both ways; with
// no backend (or none answering) the client gets a reset, the closest a
// listener gets to "connection refused".
func (l *nodePortListener) forward(c net.Conn) {
	l.mu.Lock()
	bs := l.backends
	l.mu.Unlock()
	var up net.Conn
	for _, i := range rand.Perm(len(bs)) {
		var err error
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		up, err = (&net.Dialer{}).DialContext(ctx, "tcp4", bs[i].String())
		cancel()
		if err == nil {
			break
		}
	}
	if up == nil {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		c.Close()
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
	c.Close()
	up.Close()
}
