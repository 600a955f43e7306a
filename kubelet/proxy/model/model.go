package model

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Protocol is a transport protocol a frontend is reached by.
type Protocol string

// The protocols a Service port may use.
const (
	TCP  Protocol = "TCP"
	UDP  Protocol = "UDP"
	SCTP Protocol = "SCTP"
)

// ServiceName names a Service.
type ServiceName struct {
	Namespace, Name string
}

func (n ServiceName) String() string { return n.Namespace + "/" + n.Name }

// Frontend is the address clients dial: a virtual IP, a port and a protocol.
type Frontend struct {
	IP       netip.Addr
	Port     uint16
	Protocol Protocol
}

func (f Frontend) String() string {
	return fmt.Sprintf("%s/%s", netip.AddrPortFrom(f.IP, f.Port), f.Protocol)
}

// Backend is one endpoint a frontend forwards to, with the EndpointSlice
// conditions it was chosen by.
type Backend struct {
	IP          netip.Addr
	Port        uint16
	Ready       bool
	Serving     bool
	Terminating bool
	NodeName    string
}

// AddrPort is the backend's address and port.
func (b Backend) AddrPort() netip.AddrPort { return netip.AddrPortFrom(b.IP, b.Port) }

// Service is a Service's frontends with the backends each may reach.
type Service struct {
	Name ServiceName
	// Ports holds one entry per cluster IP and service port.
	Ports []Port
	// AffinityTimeout is how long a client (a network namespace) sticks to the
	// backend it got first; zero means no session affinity.
	AffinityTimeout time.Duration
}

// Port is one frontend of a Service and the backends chosen for it.
type Port struct {
	// Name is the service port's name ("" for a single unnamed port).
	Name     string
	Frontend Frontend
	// Backends are the endpoints traffic goes to, sorted by address; empty
	// means connections are refused.
	Backends []Backend
	// NodePort, when not zero, is the port the Service also listens on at
	// the node's addresses, leading to NodePortBackends (the same as
	// Backends unless externalTrafficPolicy is Local).
	NodePort         uint16
	NodePortBackends []Backend
	// HostIP, when valid, is the only address the NodePort answers at (a
	// pod's host port with a hostIP). A Port without a Frontend IP has only
	// its NodePort (a pod's host port).
	HostIP netip.Addr
}

// Frontends returns the Service's frontends mapped to their ports.
func (s *Service) Frontends() map[Frontend]*Port {
	m := make(map[Frontend]*Port, len(s.Ports))
	for i := range s.Ports {
		m[s.Ports[i].Frontend] = &s.Ports[i]
	}
	return m
}

// Equal reports whether two services route the same way.
func (s *Service) Equal(o *Service) bool {
	if s == nil || o == nil {
		return s == o
	}
	return s.Name == o.Name && s.AffinityTimeout == o.AffinityTimeout &&
		slices.EqualFunc(s.Ports, o.Ports, func(a, b Port) bool {
			return a.Name == b.Name && a.Frontend == b.Frontend && slices.Equal(a.Backends, b.Backends) &&
				a.NodePort == b.NodePort && slices.Equal(a.NodePortBackends, b.NodePortBackends) && a.HostIP == b.HostIP
		})
}

// SelectBackends picks the endpoints traffic may use, as kube-proxy does: the
// ready ones; when none is ready, the ones still serving while terminating, so
// a rolling update does not drop connections. With local set, only endpoints on
// nodeName count (internalTrafficPolicy: Local), with the same fallback.
func SelectBackends(all []Backend, local bool, nodeName string) []Backend {
	var ready, terminating []Backend
	for _, b := range all {
		if local && b.NodeName != nodeName {
			continue
		}
		switch {
		case b.Ready:
			ready = append(ready, b)
		case b.Serving && b.Terminating:
			terminating = append(terminating, b)
		}
	}
	if len(ready) > 0 {
		return ready
	}
	return terminating
}

func sortBackends(bs []Backend) {
	slices.SortFunc(bs, func(a, b Backend) int {
		return cmp.Or(a.IP.Compare(b.IP), cmp.Compare(a.Port, b.Port))
	})
}
