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
// UDP is forwarded per client address and port, a session ending after
// udpSessionIdle without datagrams.
type nodePorts struct {
	log   logr.Logger
	addrs []netip.Addr // where to listen; empty means every address

	mu        sync.Mutex
	byService map[model.ServiceName]map[nodePortKey][]netip.AddrPort
	listeners map[nodePortKey]*nodePortListener
}

type nodePortKey struct {
	port  uint16
	proto model.Protocol
	// addr, when valid, is the only address listened at (a host port's
	// hostIP); otherwise every address of the node.
	addr netip.Addr
}

type nodePortListener struct {
	closers  []io.Closer
	mu       sync.Mutex
	backends []netip.AddrPort
}

// udpSessionIdle ends a UDP NodePort session (as conntrack's UDP timeout
// does for kube-proxy).
const udpSessionIdle = 30 * time.Second

func newNodePorts(log logr.Logger, addrs []netip.Addr) *nodePorts {
	return &nodePorts{log: log, addrs: addrs, byService: map[model.ServiceName]map[nodePortKey][]netip.AddrPort{}, listeners: map[nodePortKey]*nodePortListener{}}
}

// Set records a service's TCP node ports (nil svc: none) and opens or closes
// listeners to match.
func (n *nodePorts) Set(name model.ServiceName, svc *model.Service) {
	ports := map[nodePortKey][]netip.AddrPort{}
	if svc != nil {
		for _, p := range svc.Ports {
			if p.NodePort == 0 || (p.Frontend.Protocol != model.TCP && p.Frontend.Protocol != model.UDP) || p.HostIP.IsLoopback() {
				continue // only the node's own processes reach 127.0.0.1, through the programs
			}
			k := nodePortKey{p.NodePort, p.Frontend.Protocol, p.HostIP}
			for _, b := range p.NodePortBackends {
				ports[k] = append(ports[k], b.AddrPort())
			}
			if _, ok := ports[k]; !ok {
				ports[k] = nil
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
	want := map[nodePortKey][]netip.AddrPort{}
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
				n.log.Error(err, "Opening NodePort listener", "port", port.port, "protocol", port.proto)
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

func (n *nodePorts) listen(k nodePortKey) (*nodePortListener, error) {
	addrs := n.addrs
	switch {
	case k.addr.IsValid():
		addrs = []netip.Addr{k.addr}
	case len(addrs) == 0:
		addrs = []netip.Addr{netip.IPv4Unspecified()}
	}
	l := &nodePortListener{}
	for _, a := range addrs {
		addr := net.JoinHostPort(a.String(), strconv.Itoa(int(k.port)))
		if k.proto == model.UDP {
			pc, err := net.ListenPacket("udp4", addr)
			if err != nil {
				l.close()
				return nil, err
			}
			f := &udpForwarder{pc: pc, l: l, sessions: map[string]*net.UDPConn{}}
			l.closers = append(l.closers, f)
			go f.serve(n.log)
			continue
		}
		ln, err := net.Listen("tcp4", addr)
		if err != nil {
			l.close()
			return nil, err
		}
		l.closers = append(l.closers, ln)
		go l.serve(n.log, ln)
	}
	return l, nil
}

func (l *nodePortListener) close() {
	for _, c := range l.closers {
		c.Close()
	}
}

func (l *nodePortListener) current() []netip.AddrPort {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.backends
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

// udpForwarder relays datagrams between clients of a UDP NodePort and a
// backend chosen per client address.
type udpForwarder struct {
	pc net.PacketConn
	l  *nodePortListener

	mu       sync.Mutex
	sessions map[string]*net.UDPConn
}

func (f *udpForwarder) Close() error {
	f.mu.Lock()
	for k, up := range f.sessions {
		up.Close()
		delete(f.sessions, k)
	}
	f.mu.Unlock()
	return f.pc.Close()
}

func (f *udpForwarder) serve(log logr.Logger) {
	buf := make([]byte, 65535)
	for {
		n, client, err := f.pc.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				log.Error(err, "Reading NodePort datagram", "addr", f.pc.LocalAddr())
			}
			return
		}
		up := f.session(client)
		if up != nil {
			_, _ = up.Write(buf[:n])
		}
	}
}

// session returns the client's connection to its backend, opening one (and
// the goroutine relaying replies) for a new client; nil without backends.
func (f *udpForwarder) session(client net.Addr) *net.UDPConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	if up, ok := f.sessions[client.String()]; ok {
		return up
	}
	bs := f.l.current()
	if len(bs) == 0 {
		return nil
	}
	up, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(bs[rand.IntN(len(bs))]))
	if err != nil {
		return nil
	}
	f.sessions[client.String()] = up
	go func() {
		defer func() {
			f.mu.Lock()
			if f.sessions[client.String()] == up {
				delete(f.sessions, client.String())
			}
			f.mu.Unlock()
			up.Close()
		}()
		buf := make([]byte, 65535)
		for {
			_ = up.SetReadDeadline(time.Now().Add(udpSessionIdle))
			n, err := up.Read(buf)
			if err != nil {
				return // idle, closed, or the backend refused
			}
			if _, err := f.pc.WriteTo(buf[:n], client); err != nil {
				return
			}
		}
	}()
	return up
}

// forward connects the client to a random backend and copies both ways; with
// no backend (or none answering) the client gets a reset, the closest a
// listener gets to "connection refused".
func (l *nodePortListener) forward(c net.Conn) {
	bs := l.current()
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
