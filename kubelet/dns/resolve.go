package dns

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// TTL of every record the zone answers with.
const TTL = 5

// Objects is what Resolve reads: Services and their EndpointSlices.
type Objects interface {
	Service(namespace, name string) *corev1.Service
	EndpointSlices(namespace, service string) []*discoveryv1.EndpointSlice
	// NamespaceHasServices reports whether <namespace>.svc.<zone> has names
	// below it.
	NamespaceHasServices(namespace string) bool
}

// Answer is the outcome of a question about the cluster zone.
type Answer struct {
	Rcode  int
	Answer []dns.RR
	Ns     []dns.RR
	Extra  []dns.RR
}

// InZone reports whether name (fully qualified) lies in the cluster zone.
func InZone(name, zone string) bool {
	return dns.IsSubDomain(dns.Fqdn(zone), strings.ToLower(name))
}

// Resolve answers a question about a name in zone (e.g. "cluster.local.").
func Resolve(q dns.Question, zone string, objs Objects) Answer {
	zone = dns.Fqdn(strings.ToLower(zone))
	r := resolver{q: q, name: strings.ToLower(q.Name), zone: zone, objs: objs}
	return r.resolve()
}

func (r *resolver) resolve() Answer {
	rel := strings.TrimSuffix(strings.TrimSuffix(r.name, r.zone), ".")
	if rel == "" {
		return r.apex()
	}
	if rel == "dns-version" {
		return r.version()
	}
	labels := dns.SplitDomainName(rel)
	switch labels[len(labels)-1] {
	case "svc":
		return r.svc(labels[:len(labels)-1])
	case "pod":
		return r.pod(labels[:len(labels)-1])
	}
	return r.nxdomain()
}

type resolver struct {
	q     dns.Question
	name  string
	zone  string
	objs  Objects
	depth int // CNAME steps followed
}

// version answers dns-version.<zone> TXT with the version of the Kubernetes
// DNS specification the answers follow.
func (r *resolver) version() Answer {
	if r.q.Qtype != dns.TypeTXT {
		return r.nodata()
	}
	return Answer{Rcode: dns.RcodeSuccess, Answer: []dns.RR{&dns.TXT{
		Hdr: dns.RR_Header{Name: r.q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 28800}, Txt: []string{"1.1.0"},
	}}}
}

func (r *resolver) soa() dns.RR {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: r.zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: TTL},
		Ns:      "ns.dns." + r.zone,
		Mbox:    "hostmaster." + r.zone,
		Serial:  1,
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  TTL,
	}
}

func (r *resolver) nxdomain() Answer {
	return Answer{Rcode: dns.RcodeNameError, Ns: []dns.RR{r.soa()}}
}

// nodata is the answer for a name that exists without records of the type.
func (r *resolver) nodata() Answer {
	return Answer{Rcode: dns.RcodeSuccess, Ns: []dns.RR{r.soa()}}
}

func (r *resolver) answer(rrs []dns.RR, extra []dns.RR) Answer {
	if len(rrs) == 0 {
		return r.nodata()
	}
	return Answer{Rcode: dns.RcodeSuccess, Answer: rrs, Extra: extra}
}

func (r *resolver) apex() Answer {
	switch r.q.Qtype {
	case dns.TypeSOA:
		return Answer{Rcode: dns.RcodeSuccess, Answer: []dns.RR{r.soa()}}
	case dns.TypeNS:
		return Answer{Rcode: dns.RcodeSuccess, Answer: []dns.RR{&dns.NS{
			Hdr: r.hdr(dns.TypeNS), Ns: "ns.dns." + r.zone,
		}}}
	}
	return r.nodata()
}

func (r *resolver) hdr(t uint16) dns.RR_Header {
	return dns.RR_Header{Name: r.q.Name, Rrtype: t, Class: dns.ClassINET, Ttl: TTL}
}

// address returns an A or AAAA record for ip when it matches the question's
// type (either, when want is 0).
func address(name string, ip netip.Addr, want uint16) dns.RR {
	switch {
	case ip.Is4() && (want == dns.TypeA || want == 0):
		return &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: TTL}, A: ip.AsSlice()}
	case ip.Is6() && (want == dns.TypeAAAA || want == 0):
		return &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: TTL}, AAAA: ip.AsSlice()}
	}
	return nil
}

// svc answers names under svc.<zone>; labels are the ones before "svc".
func (r *resolver) svc(labels []string) Answer {
	switch len(labels) {
	case 0:
		return r.nodata()
	case 1:
		if r.objs.NamespaceHasServices(labels[0]) {
			return r.nodata()
		}
		return r.nxdomain()
	case 2:
		return r.service(labels[1], labels[0])
	case 3:
		if strings.HasPrefix(labels[0], "_") {
			// _<proto>.<svc>.<ns>.svc: exists when SRV names below it do.
			return r.nodata()
		}
		return r.endpoint(labels[2], labels[1], labels[0])
	case 4:
		if strings.HasPrefix(labels[0], "_") && strings.HasPrefix(labels[1], "_") {
			return r.srv(labels[3], labels[2], labels[0][1:], labels[1][1:])
		}
	}
	return r.nxdomain()
}

func serviceFQDN(namespace, name, zone string) string {
	return name + "." + namespace + ".svc." + zone
}

func headless(svc *corev1.Service) bool {
	return svc.Spec.ClusterIP == corev1.ClusterIPNone
}

func (r *resolver) service(namespace, name string) Answer {
	svc := r.objs.Service(namespace, name)
	if svc == nil {
		return r.nxdomain()
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return r.externalName(svc)
	}
	switch r.q.Qtype {
	case dns.TypeA, dns.TypeAAAA:
		var rrs []dns.RR
		for _, ip := range r.serviceAddrs(svc) {
			if rr := address(r.q.Name, ip, r.q.Qtype); rr != nil {
				rrs = append(rrs, rr)
			}
		}
		return r.answer(rrs, nil)
	case dns.TypeSRV:
		var rrs, extra []dns.RR
		for _, p := range svc.Spec.Ports {
			if p.Name == "" {
				continue
			}
			a := r.srvFor(svc, p)
			rrs, extra = append(rrs, a.Answer...), append(extra, a.Extra...)
		}
		return r.answer(rrs, extra)
	}
	return r.nodata()
}

// externalName answers with a CNAME to the Service's external name and, when
// that name is in the zone, follows it (a few steps at most) as CoreDNS does.
// Names outside the zone are for the server to follow through its upstreams.
func (r *resolver) externalName(svc *corev1.Service) Answer {
	target := dns.Fqdn(strings.ToLower(svc.Spec.ExternalName))
	a := Answer{Rcode: dns.RcodeSuccess, Answer: []dns.RR{&dns.CNAME{Hdr: r.hdr(dns.TypeCNAME), Target: target}}}
	if r.q.Qtype == dns.TypeCNAME || !dns.IsSubDomain(r.zone, target) || r.depth >= 8 {
		return a
	}
	next := resolver{q: dns.Question{Name: target, Qtype: r.q.Qtype, Qclass: r.q.Qclass}, name: target, zone: r.zone, objs: r.objs, depth: r.depth + 1}
	chased := next.resolve()
	a.Answer = append(a.Answer, chased.Answer...)
	a.Extra = append(a.Extra, chased.Extra...)
	if len(chased.Answer) == 0 {
		a.Rcode, a.Ns = chased.Rcode, chased.Ns
	}
	return a
}

// serviceAddrs are the cluster IPs, or for a headless Service the addresses
// of its ready endpoints (all of them with publishNotReadyAddresses).
func (r *resolver) serviceAddrs(svc *corev1.Service) []netip.Addr {
	if !headless(svc) {
		var out []netip.Addr
		ips := svc.Spec.ClusterIPs
		if len(ips) == 0 {
			ips = []string{svc.Spec.ClusterIP}
		}
		for _, s := range ips {
			if ip, err := netip.ParseAddr(s); err == nil {
				out = append(out, ip)
			}
		}
		return out
	}
	var out []netip.Addr
	for _, e := range r.endpoints(svc) {
		if !slices.Contains(out, e.ip) {
			out = append(out, e.ip)
		}
	}
	return out
}

type endpoint struct {
	ip       netip.Addr
	hostname string
	slice    *discoveryv1.EndpointSlice
}

// label is the endpoint's name under its Service: its hostname, or its
// address with dashes.
func (e endpoint) label() string {
	if e.hostname != "" {
		return e.hostname
	}
	return dashed(e.ip)
}

func dashed(ip netip.Addr) string {
	if ip.Is4() {
		return strings.ReplaceAll(ip.String(), ".", "-")
	}
	return strings.ReplaceAll(ip.String(), ":", "-")
}

func (r *resolver) endpoints(svc *corev1.Service) []endpoint {
	var out []endpoint
	for _, s := range r.objs.EndpointSlices(svc.Namespace, svc.Name) {
		if s.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		for _, ep := range s.Endpoints {
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			if !ready && !svc.Spec.PublishNotReadyAddresses {
				continue
			}
			for _, a := range ep.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil {
					continue
				}
				e := endpoint{ip: ip, slice: s}
				if ep.Hostname != nil {
					e.hostname = strings.ToLower(*ep.Hostname)
				}
				out = append(out, e)
			}
		}
	}
	return out
}

// endpoint answers <label>.<svc>.<ns>.svc.<zone>.
func (r *resolver) endpoint(namespace, name, label string) Answer {
	svc := r.objs.Service(namespace, name)
	if svc == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return r.nxdomain()
	}
	var rrs []dns.RR
	found := false
	for _, e := range r.endpoints(svc) {
		if e.label() != label && dashed(e.ip) != label {
			continue
		}
		found = true
		if r.q.Qtype == dns.TypeA || r.q.Qtype == dns.TypeAAAA {
			if rr := address(r.q.Name, e.ip, r.q.Qtype); rr != nil && !containsRR(rrs, rr) {
				rrs = append(rrs, rr)
			}
		}
	}
	if !found {
		return r.nxdomain()
	}
	return r.answer(rrs, nil)
}

func containsRR(rrs []dns.RR, rr dns.RR) bool {
	for _, x := range rrs {
		if x.String() == rr.String() {
			return true
		}
	}
	return false
}

// srv answers _<port>._<proto>.<svc>.<ns>.svc.<zone>.
func (r *resolver) srv(namespace, name, port, proto string) Answer {
	svc := r.objs.Service(namespace, name)
	if svc == nil || svc.Spec.Type == corev1.ServiceTypeExternalName {
		return r.nxdomain()
	}
	for _, p := range svc.Spec.Ports {
		pp := p.Protocol
		if pp == "" {
			pp = corev1.ProtocolTCP
		}
		if strings.EqualFold(p.Name, port) && strings.EqualFold(string(pp), proto) {
			if r.q.Qtype != dns.TypeSRV {
				return r.nodata()
			}
			a := r.srvFor(svc, p)
			return r.answer(a.Answer, a.Extra)
		}
	}
	return r.nxdomain()
}

// srvFor returns the SRV records of one service port: one pointing at the
// Service name for a cluster IP, one per endpoint for a headless Service, with
// weights sharing 100 as CoreDNS does and the addresses as extra records.
func (r *resolver) srvFor(svc *corev1.Service, p corev1.ServicePort) Answer {
	base := serviceFQDN(svc.Namespace, svc.Name, r.zone)
	if !headless(svc) {
		var extra []dns.RR
		for _, ip := range r.serviceAddrs(svc) {
			extra = append(extra, address(base, ip, 0))
		}
		return Answer{Answer: []dns.RR{&dns.SRV{Hdr: r.hdr(dns.TypeSRV), Priority: 0, Weight: 100, Port: uint16(p.Port), Target: base}}, Extra: extra}
	}
	// One SRV record per endpoint name, its weight sharing 100 among all the
	// endpoint addresses (an endpoint hostname may carry several), and every
	// address as an extra record, as CoreDNS answers.
	type target struct {
		name string
		port uint16
	}
	var (
		targets []target
		extra   []dns.RR
		count   int
	)
	for _, e := range r.endpoints(svc) {
		port, ok := slicePort(e.slice, p)
		if !ok {
			continue
		}
		count++
		t := target{name: e.label() + "." + base, port: port}
		if !slices.Contains(targets, t) {
			targets = append(targets, t)
		}
		if rr := address(t.name, e.ip, 0); !containsRR(extra, rr) {
			extra = append(extra, rr)
		}
	}
	a := Answer{Extra: extra}
	for _, t := range targets {
		a.Answer = append(a.Answer, &dns.SRV{Hdr: r.hdr(dns.TypeSRV), Priority: 0, Weight: srvWeight(count), Port: t.port, Target: t.name})
	}
	return a
}

// srvWeight shares a weight of 100 among n records, at least 1 each.
func srvWeight(n int) uint16 {
	return uint16(max(100/n, 1))
}

func slicePort(s *discoveryv1.EndpointSlice, p corev1.ServicePort) (uint16, bool) {
	want := p.Protocol
	if want == "" {
		want = corev1.ProtocolTCP
	}
	for _, sp := range s.Ports {
		proto := corev1.ProtocolTCP
		if sp.Protocol != nil {
			proto = *sp.Protocol
		}
		if sp.Name != nil && *sp.Name == p.Name && proto == want && sp.Port != nil {
			return uint16(*sp.Port), true
		}
	}
	return 0, false
}

// pod answers <a-b-c-d>.<ns>.pod.<zone> from the name alone.
func (r *resolver) pod(labels []string) Answer {
	switch len(labels) {
	case 0, 1:
		return r.nodata()
	case 2:
		ip, err := netip.ParseAddr(strings.ReplaceAll(labels[0], "-", "."))
		if err != nil || !ip.Is4() {
			if ip6, err := parseDashedV6(labels[0]); err == nil {
				ip = ip6
			} else {
				return r.nxdomain()
			}
		}
		if rr := address(r.q.Name, ip, r.q.Qtype); rr != nil {
			return r.answer([]dns.RR{rr}, nil)
		}
		return r.nodata()
	}
	return r.nxdomain()
}

func parseDashedV6(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(strings.ReplaceAll(s, "-", ":"))
	if err != nil || !ip.Is6() {
		return netip.Addr{}, fmt.Errorf("%q is not a dashed IPv6 address", s)
	}
	return ip, nil
}
