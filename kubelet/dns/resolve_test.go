package dns

import (
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// staticObjects serves Resolve from fixed objects.
type staticObjects struct {
	services []*corev1.Service
	slices   []*discoveryv1.EndpointSlice
}

func (o *staticObjects) Service(ns, name string) *corev1.Service {
	for _, s := range o.services {
		if s.Namespace == ns && s.Name == name {
			return s
		}
	}
	return nil
}

func (o *staticObjects) EndpointSlices(ns, svc string) []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for _, s := range o.slices {
		if s.Namespace == ns && s.Labels[discoveryv1.LabelServiceName] == svc {
			out = append(out, s)
		}
	}
	return out
}

func (o *staticObjects) NamespaceHasServices(ns string) bool {
	return slices.ContainsFunc(o.services, func(s *corev1.Service) bool { return s.Namespace == ns })
}

func testObjects() []any {
	echo := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "echo"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.20", ClusterIPs: []string{"10.96.0.20"}, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
			{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
		}},
	}
	web := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
		Spec: corev1.ServiceSpec{ClusterIP: "None", ClusterIPs: []string{"None"}, Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP},
		}},
	}
	ext := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ext"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.org"},
	}
	webSlice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "web-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(8080)), Protocol: ptr.To(corev1.ProtocolTCP)}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.244.0.5"}, Hostname: ptr.To("web-0"), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
			{Addresses: []string{"10.244.0.6"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
			{Addresses: []string{"10.244.0.7"}, Hostname: ptr.To("web-2"), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
		},
	}
	extIn := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ext-in"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "echo.default.svc.cluster.local"},
	}
	dup := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "dup"},
		Spec:       corev1.ServiceSpec{ClusterIP: "None", ClusterIPs: []string{"None"}, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}
	dupSlice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "dup-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "dup"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(int32(80))}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.244.0.8"}, Hostname: ptr.To("dup-name")},
			{Addresses: []string{"10.244.0.9"}, Hostname: ptr.To("dup-name")},
			{Addresses: []string{"10.244.0.10"}},
		},
	}
	return []any{echo, web, ext, webSlice, extIn, dup, dupSlice}
}

func staticFrom(objs []any) *staticObjects {
	o := &staticObjects{}
	for _, x := range objs {
		switch v := x.(type) {
		case *corev1.Service:
			o.services = append(o.services, v)
		case *discoveryv1.EndpointSlice:
			o.slices = append(o.slices, v)
		}
	}
	return o
}

// rrs renders records without their TTL and class, for comparison.
func rrs(in []dns.RR) []string {
	var out []string
	for _, rr := range in {
		f := strings.Fields(rr.String())
		out = append(out, strings.Join(append([]string{f[0]}, f[3:]...), " "))
	}
	return out
}

// TestResolve's expectations follow CoreDNS's kubernetes plugin (v1.12,
// plugin/kubernetes/handler_test.go and handler_pod_insecure_test.go) for the
// same objects: TTL 5, the SOA in the authority section of NXDOMAIN and
// NODATA answers, SRV weights sharing 100, dashed endpoint names.
func TestResolve(t *testing.T) {
	const soa = "cluster.local. SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"
	tests := []struct {
		name   string
		qtype  uint16
		rcode  int
		answer []string
		extra  []string
		ns     []string
	}{
		{"echo.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"echo.default.svc.cluster.local. A 10.96.0.20"}, nil, nil},
		{"ECHO.Default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"ECHO.Default.svc.cluster.local. A 10.96.0.20"}, nil, nil},
		{"echo.default.svc.cluster.local.", dns.TypeAAAA, dns.RcodeSuccess, nil, nil, []string{soa}},
		{"echo.default.svc.cluster.local.", dns.TypeTXT, dns.RcodeSuccess, nil, nil, []string{soa}},
		{"_http._tcp.echo.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"_http._tcp.echo.default.svc.cluster.local. SRV 0 100 80 echo.default.svc.cluster.local."},
			[]string{"echo.default.svc.cluster.local. A 10.96.0.20"}, nil},
		{"_dns._udp.echo.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"_dns._udp.echo.default.svc.cluster.local. SRV 0 100 53 echo.default.svc.cluster.local."},
			[]string{"echo.default.svc.cluster.local. A 10.96.0.20"}, nil},
		{"_dns._tcp.echo.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeNameError, nil, nil, []string{soa}},
		{"_ftp._tcp.echo.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeNameError, nil, nil, []string{soa}},
		{"echo.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"echo.default.svc.cluster.local. SRV 0 100 80 echo.default.svc.cluster.local.", "echo.default.svc.cluster.local. SRV 0 100 53 echo.default.svc.cluster.local."},
			[]string{"echo.default.svc.cluster.local. A 10.96.0.20", "echo.default.svc.cluster.local. A 10.96.0.20"}, nil},
		{"web.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess,
			[]string{"web.default.svc.cluster.local. A 10.244.0.5", "web.default.svc.cluster.local. A 10.244.0.6"}, nil, nil},
		{"_http._tcp.web.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"_http._tcp.web.default.svc.cluster.local. SRV 0 50 8080 web-0.web.default.svc.cluster.local.", "_http._tcp.web.default.svc.cluster.local. SRV 0 50 8080 10-244-0-6.web.default.svc.cluster.local."},
			[]string{"web-0.web.default.svc.cluster.local. A 10.244.0.5", "10-244-0-6.web.default.svc.cluster.local. A 10.244.0.6"}, nil},
		{"web-0.web.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"web-0.web.default.svc.cluster.local. A 10.244.0.5"}, nil, nil},
		{"10-244-0-6.web.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"10-244-0-6.web.default.svc.cluster.local. A 10.244.0.6"}, nil, nil},
		{"web-2.web.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil, nil, []string{soa}},
		{"ext.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"ext.default.svc.cluster.local. CNAME example.org."}, nil, nil},
		{"10-244-1-9.default.pod.cluster.local.", dns.TypeA, dns.RcodeSuccess, []string{"10-244-1-9.default.pod.cluster.local. A 10.244.1.9"}, nil, nil},
		{"nope.default.pod.cluster.local.", dns.TypeA, dns.RcodeNameError, nil, nil, []string{soa}},
		{"missing.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil, nil, []string{soa}},
		{"default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, nil, nil, []string{soa}},
		{"other.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil, nil, []string{soa}},
		{"svc.cluster.local.", dns.TypeA, dns.RcodeSuccess, nil, nil, []string{soa}},
		{"foo.cluster.local.", dns.TypeA, dns.RcodeNameError, nil, nil, []string{soa}},
		{"cluster.local.", dns.TypeSOA, dns.RcodeSuccess, []string{soa}, nil, nil},
		{"dns-version.cluster.local.", dns.TypeTXT, dns.RcodeSuccess, []string{`dns-version.cluster.local. TXT "1.1.0"`}, nil, nil},
		{"ext-in.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess,
			[]string{"ext-in.default.svc.cluster.local. CNAME echo.default.svc.cluster.local.", "echo.default.svc.cluster.local. A 10.96.0.20"}, nil, nil},
		{"ext.default.svc.cluster.local.", dns.TypeCNAME, dns.RcodeSuccess, []string{"ext.default.svc.cluster.local. CNAME example.org."}, nil, nil},
		{"endpoint.ext.default.svc.cluster.local.", dns.TypeA, dns.RcodeNameError, nil, nil, []string{soa}},
		{"_http._tcp.dup.default.svc.cluster.local.", dns.TypeSRV, dns.RcodeSuccess,
			[]string{"_http._tcp.dup.default.svc.cluster.local. SRV 0 33 80 dup-name.dup.default.svc.cluster.local.", "_http._tcp.dup.default.svc.cluster.local. SRV 0 33 80 10-244-0-10.dup.default.svc.cluster.local."},
			[]string{"dup-name.dup.default.svc.cluster.local. A 10.244.0.8", "dup-name.dup.default.svc.cluster.local. A 10.244.0.9", "10-244-0-10.dup.default.svc.cluster.local. A 10.244.0.10"}, nil},
		{"dup-name.dup.default.svc.cluster.local.", dns.TypeA, dns.RcodeSuccess,
			[]string{"dup-name.dup.default.svc.cluster.local. A 10.244.0.8", "dup-name.dup.default.svc.cluster.local. A 10.244.0.9"}, nil, nil},
	}
	objs := staticFrom(testObjects())
	for _, tt := range tests {
		t.Run(tt.name+"/"+dns.TypeToString[tt.qtype], func(t *testing.T) {
			a := Resolve(dns.Question{Name: tt.name, Qtype: tt.qtype, Qclass: dns.ClassINET}, "cluster.local", objs)
			if a.Rcode != tt.rcode {
				t.Errorf("rcode %s, want %s", dns.RcodeToString[a.Rcode], dns.RcodeToString[tt.rcode])
			}
			for _, c := range []struct {
				what      string
				got, want []string
			}{{"answer", rrs(a.Answer), tt.answer}, {"extra", rrs(a.Extra), tt.extra}, {"authority", rrs(a.Ns), tt.ns}} {
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s:\n got  %q\n want %q", c.what, c.got, c.want)
				}
			}
		})
	}
}

func TestInZone(t *testing.T) {
	for name, want := range map[string]bool{
		"echo.default.svc.cluster.local.": true,
		"cluster.local.":                  true,
		"Echo.Cluster.Local.":             true,
		"example.org.":                    false,
		"notcluster.local.":               false,
	} {
		if got := InZone(name, "cluster.local"); got != want {
			t.Errorf("InZone(%q) = %v, want %v", name, got, want)
		}
	}
}

func (o *staticObjects) ServicesByIP(ip string) []*corev1.Service {
	var out []*corev1.Service
	for _, s := range o.services {
		if slices.Contains(s.Spec.ClusterIPs, ip) {
			out = append(out, s)
		}
	}
	return out
}

func (o *staticObjects) EndpointSlicesByIP(ip string) []*discoveryv1.EndpointSlice {
	var out []*discoveryv1.EndpointSlice
	for _, s := range o.slices {
		for _, ep := range s.Endpoints {
			if slices.Contains(ep.Addresses, ip) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

func TestResolveReverse(t *testing.T) {
	tests := []struct {
		name   string
		ok     bool
		answer []string
	}{
		{"20.0.96.10.in-addr.arpa.", true, []string{"20.0.96.10.in-addr.arpa. PTR echo.default.svc.cluster.local."}},
		{"5.0.244.10.in-addr.arpa.", true, []string{"5.0.244.10.in-addr.arpa. PTR web-0.web.default.svc.cluster.local."}},
		{"6.0.244.10.in-addr.arpa.", true, []string{"6.0.244.10.in-addr.arpa. PTR 10-244-0-6.web.default.svc.cluster.local."}},
		{"1.1.168.192.in-addr.arpa.", false, nil},
		{"0.96.10.in-addr.arpa.", false, nil},
	}
	objs := staticFrom(testObjects())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := ResolveReverse(dns.Question{Name: tt.name, Qtype: dns.TypePTR, Qclass: dns.ClassINET}, "cluster.local", objs)
			if ok != tt.ok {
				t.Fatalf("ok %v, want %v", ok, tt.ok)
			}
			if got := rrs(a.Answer); !slices.Equal(got, tt.answer) {
				t.Errorf("answer %q, want %q", got, tt.answer)
			}
		})
	}
}
