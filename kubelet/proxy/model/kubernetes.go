package model

import (
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// DefaultAffinityTimeout is the ClientIP affinity timeout when the Service does
// not set one (upstream's default: three hours).
const DefaultAffinityTimeout = 10800 * time.Second

// ProxiedService reports whether the proxy routes svc: ExternalName and
// headless Services are served by DNS alone.
func ProxiedService(svc *corev1.Service) bool {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return false
	}
	ip := svc.Spec.ClusterIP
	return ip != "" && ip != corev1.ClusterIPNone
}

// FromKubernetes translates a Service and the EndpointSlices labelled with its
// name into the model, as seen from the node nodeName. It returns nil for
// Services the proxy does not route. Only IPv4 cluster IPs and IPv4 slices are
// used; slices whose ports do not name a service port contribute nothing to it.
func FromKubernetes(svc *corev1.Service, slices []*discoveryv1.EndpointSlice, nodeName string) *Service {
	if !ProxiedService(svc) {
		return nil
	}
	out := &Service{Name: ServiceName{Namespace: svc.Namespace, Name: svc.Name}}
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		out.AffinityTimeout = DefaultAffinityTimeout
		if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
			out.AffinityTimeout = time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
		}
	}
	local := svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal
	externalLocal := svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	nodePorts := svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer

	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 {
		ips = []string{svc.Spec.ClusterIP}
	}
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil || !ip.Is4() {
			continue
		}
		for _, sp := range svc.Spec.Ports {
			proto := Protocol(sp.Protocol)
			if proto == "" {
				proto = TCP
			}
			all := endpointsFor(sp.Name, proto, slices)
			backends := SelectBackends(all, local, nodeName)
			sortBackends(backends)
			port := Port{
				Name:     sp.Name,
				Frontend: Frontend{IP: ip, Port: uint16(sp.Port), Protocol: proto},
				Backends: backends,
			}
			if nodePorts && sp.NodePort > 0 {
				port.NodePort = uint16(sp.NodePort)
				port.NodePortBackends = SelectBackends(all, externalLocal, nodeName)
				sortBackends(port.NodePortBackends)
			}
			out.Ports = append(out.Ports, port)
		}
	}
	return out
}

// endpointsFor collects the endpoints of every slice for the service port
// named portName. The EndpointSlice controller resolves a named targetPort per
// pod, so each slice carries its own port number under the service port's
// name. An address listed in several slices (a transient state while pods
// move between slices) counts once, with its best conditions.
func endpointsFor(portName string, proto Protocol, slices []*discoveryv1.EndpointSlice) []Backend {
	byAddr := map[netip.AddrPort]Backend{}
	var order []netip.AddrPort
	for _, slice := range slices {
		if slice.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		port, ok := slicePort(slice, portName, proto)
		if !ok {
			continue
		}
		for _, ep := range slice.Endpoints {
			b := Backend{
				Port: port,
				// Unset ready and serving mean "unknown" and are to be taken as true.
				Ready:       ep.Conditions.Ready == nil || *ep.Conditions.Ready,
				Serving:     ep.Conditions.Serving == nil || *ep.Conditions.Serving,
				Terminating: ep.Conditions.Terminating != nil && *ep.Conditions.Terminating,
			}
			if ep.Conditions.Serving == nil && ep.Conditions.Ready != nil {
				b.Serving = b.Ready
			}
			if ep.NodeName != nil {
				b.NodeName = *ep.NodeName
			}
			for _, a := range ep.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil || !ip.Is4() {
					continue
				}
				b.IP = ip
				key := b.AddrPort()
				prev, seen := byAddr[key]
				if !seen {
					order = append(order, key)
				}
				if !seen || rank(b) > rank(prev) {
					byAddr[key] = b
				}
			}
		}
	}
	out := make([]Backend, 0, len(order))
	for _, k := range order {
		out = append(out, byAddr[k])
	}
	return out
}

func slicePort(slice *discoveryv1.EndpointSlice, name string, proto Protocol) (uint16, bool) {
	for _, p := range slice.Ports {
		pn := ""
		if p.Name != nil {
			pn = *p.Name
		}
		pp := TCP
		if p.Protocol != nil {
			pp = Protocol(*p.Protocol)
		}
		if pn == name && pp == proto && p.Port != nil && *p.Port > 0 && *p.Port <= 65535 {
			return uint16(*p.Port), true
		}
	}
	return 0, false
}

func rank(b Backend) int {
	switch {
	case b.Ready:
		return 2
	case b.Serving:
		return 1
	}
	return 0
}
