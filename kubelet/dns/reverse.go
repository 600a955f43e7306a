package dns

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// ReverseObjects finds the objects that own an address.
type ReverseObjects interface {
	ServicesByIP(ip string) []*corev1.Service
	EndpointSlicesByIP(ip string) []*discoveryv1.EndpointSlice
}

// ResolveReverse answers a PTR question for an address that is a Service's
// cluster IP (<svc>.<ns>.svc.<zone>) or an endpoint's address
// (<hostname or dashed IP>.<svc>.<ns>.svc.<zone>). ok is false for addresses
// the cluster does not know, which the server then forwards, as CoreDNS's
// kubernetes plugin falls through for in-addr.arpa.
func ResolveReverse(q dns.Question, zone string, objs ReverseObjects) (a Answer, ok bool) {
	if q.Qtype != dns.TypePTR {
		return Answer{}, false
	}
	ip, ok := reverseAddr(q.Name)
	if !ok {
		return Answer{}, false
	}
	zone = dns.Fqdn(strings.ToLower(zone))
	var targets []string
	for _, svc := range objs.ServicesByIP(ip.String()) {
		targets = append(targets, serviceFQDN(svc.Namespace, svc.Name, zone))
	}
	for _, s := range objs.EndpointSlicesByIP(ip.String()) {
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		for _, ep := range s.Endpoints {
			for _, addr := range ep.Addresses {
				if addr != ip.String() {
					continue
				}
				label := dashed(ip)
				if ep.Hostname != nil && *ep.Hostname != "" {
					label = strings.ToLower(*ep.Hostname)
				}
				targets = append(targets, label+"."+serviceFQDN(s.Namespace, svc, zone))
			}
		}
	}
	if len(targets) == 0 {
		return Answer{}, false
	}
	for _, t := range targets {
		a.Answer = append(a.Answer, &dns.PTR{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: TTL}, Ptr: t})
	}
	return a, true
}

// reverseAddr parses d.c.b.a.in-addr.arpa.
func reverseAddr(name string) (netip.Addr, bool) {
	name = strings.ToLower(dns.Fqdn(name))
	rest, found := strings.CutSuffix(name, ".in-addr.arpa.")
	if !found {
		return netip.Addr{}, false
	}
	labels := strings.Split(rest, ".")
	if len(labels) != 4 {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(labels[3] + "." + labels[2] + "." + labels[1] + "." + labels[0])
	return ip, err == nil
}
