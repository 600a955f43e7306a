package model

import (
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func service(mut func(*corev1.Service)) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "echo"},
		Spec: corev1.ServiceSpec{
			Type:       corev1.ServiceTypeClusterIP,
			ClusterIP:  "10.96.0.20",
			ClusterIPs: []string{"10.96.0.20"},
			Ports: []corev1.ServicePort{{
				Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("web"),
			}},
		},
	}
	if mut != nil {
		mut(s)
	}
	return s
}

type ep struct {
	ip                          string
	ready, serving, terminating *bool
	node                        string
}

func slice(name string, ports map[string]int32, eps ...ep) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: name},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for n, p := range ports {
		s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: ptr.To(n), Port: ptr.To(p), Protocol: ptr.To(corev1.ProtocolTCP)})
	}
	for _, e := range eps {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{e.ip},
			Conditions: discoveryv1.EndpointConditions{Ready: e.ready, Serving: e.serving, Terminating: e.terminating},
			NodeName:   ptr.To(e.node),
		})
	}
	return s
}

var (
	yes = ptr.To(true)
	no  = ptr.To(false)
)

func addrs(bs []Backend) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.AddrPort().String())
	}
	return out
}

func TestFromKubernetes(t *testing.T) {
	web := map[string]int32{"http": 8080}
	tests := []struct {
		name    string
		svc     *corev1.Service
		slices  []*discoveryv1.EndpointSlice
		want    map[string][]string // frontend -> backends
		nilWant bool
		timeout time.Duration
	}{{
		name:   "only ready endpoints",
		svc:    service(nil),
		slices: []*discoveryv1.EndpointSlice{slice("a", web, ep{ip: "10.244.0.3", ready: yes, node: "n1"}, ep{ip: "10.244.0.2", ready: no, serving: no, node: "n1"}, ep{ip: "10.244.0.4", node: "n1"})},
		want:   map[string][]string{"10.96.0.20:80/TCP": {"10.244.0.3:8080", "10.244.0.4:8080"}},
	}, {
		name: "terminating serving endpoints as fallback when none ready",
		svc:  service(nil),
		slices: []*discoveryv1.EndpointSlice{slice("a", web,
			ep{ip: "10.244.0.2", ready: no, serving: yes, terminating: yes},
			ep{ip: "10.244.0.3", ready: no, serving: no, terminating: yes})},
		want: map[string][]string{"10.96.0.20:80/TCP": {"10.244.0.2:8080"}},
	}, {
		name: "terminating ignored while one is ready",
		svc:  service(nil),
		slices: []*discoveryv1.EndpointSlice{slice("a", web,
			ep{ip: "10.244.0.2", ready: no, serving: yes, terminating: yes},
			ep{ip: "10.244.0.5", ready: yes})},
		want: map[string][]string{"10.96.0.20:80/TCP": {"10.244.0.5:8080"}},
	}, {
		name: "named target port resolved per slice",
		svc:  service(nil),
		slices: []*discoveryv1.EndpointSlice{
			slice("a", map[string]int32{"http": 8080}, ep{ip: "10.244.0.2", ready: yes}),
			slice("b", map[string]int32{"http": 9090}, ep{ip: "10.244.0.3", ready: yes}),
			slice("c", map[string]int32{"metrics": 9100}, ep{ip: "10.244.0.4", ready: yes}),
		},
		want: map[string][]string{"10.96.0.20:80/TCP": {"10.244.0.2:8080", "10.244.0.3:9090"}},
	}, {
		name: "several ports and protocols",
		svc: service(func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP}}
		}),
		slices: []*discoveryv1.EndpointSlice{func() *discoveryv1.EndpointSlice {
			s := slice("a", map[string]int32{"dns-tcp": 5353}, ep{ip: "10.244.0.9", ready: yes})
			s.Ports = append(s.Ports, discoveryv1.EndpointPort{Name: ptr.To("dns"), Port: ptr.To(int32(5353)), Protocol: ptr.To(corev1.ProtocolUDP)})
			return s
		}()},
		want: map[string][]string{"10.96.0.20:53/UDP": {"10.244.0.9:5353"}, "10.96.0.20:53/TCP": {"10.244.0.9:5353"}},
	}, {
		name: "internalTrafficPolicy Local keeps this node's endpoints",
		svc: service(func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
		}),
		slices: []*discoveryv1.EndpointSlice{slice("a", web, ep{ip: "10.244.0.2", ready: yes, node: "n1"}, ep{ip: "10.244.1.2", ready: yes, node: "n2"})},
		want:   map[string][]string{"10.96.0.20:80/TCP": {"10.244.0.2:8080"}},
	}, {
		name: "internalTrafficPolicy Local with no local endpoint refuses",
		svc: service(func(s *corev1.Service) {
			s.Spec.InternalTrafficPolicy = ptr.To(corev1.ServiceInternalTrafficPolicyLocal)
		}),
		slices: []*discoveryv1.EndpointSlice{slice("a", web, ep{ip: "10.244.1.2", ready: yes, node: "n2"})},
		want:   map[string][]string{"10.96.0.20:80/TCP": nil},
	}, {
		name:   "duplicate address across slices counts once with its best conditions",
		svc:    service(nil),
		slices: []*discoveryv1.EndpointSlice{slice("a", web, ep{ip: "10.244.0.2", ready: no, serving: no}), slice("b", web, ep{ip: "10.244.0.2", ready: yes})},
		want:   map[string][]string{"10.96.0.20:80/TCP": {"10.244.0.2:8080"}},
	}, {
		name: "client IP affinity with default timeout",
		svc: service(func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		}),
		want:    map[string][]string{"10.96.0.20:80/TCP": nil},
		timeout: DefaultAffinityTimeout,
	}, {
		name: "client IP affinity with its timeout",
		svc: service(func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To(int32(60))}}
		}),
		want:    map[string][]string{"10.96.0.20:80/TCP": nil},
		timeout: time.Minute,
	}, {
		name:    "headless is DNS only",
		svc:     service(func(s *corev1.Service) { s.Spec.ClusterIP = "None"; s.Spec.ClusterIPs = []string{"None"} }),
		nilWant: true,
	}, {
		name: "ExternalName is DNS only",
		svc: service(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.ExternalName = "", nil, "example.org"
		}),
		nilWant: true,
	}, {
		name:   "IPv6 cluster IP skipped on a dual-stack service",
		svc:    service(func(s *corev1.Service) { s.Spec.ClusterIPs = []string{"10.96.0.20", "fd00::20"} }),
		slices: []*discoveryv1.EndpointSlice{slice("a", web, ep{ip: "10.244.0.2", ready: yes})},
		want:   map[string][]string{"10.96.0.20:80/TCP": {"10.244.0.2:8080"}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromKubernetes(tt.svc, tt.slices, "n1")
			if got != nil {
				for _, p := range got.Ports {
					if p.NodePort != 0 {
						t.Errorf("%s: node port %d on a ClusterIP service", p.Frontend, p.NodePort)
					}
				}
			}
			if tt.nilWant {
				if got != nil {
					t.Fatalf("want nil, got %+v", got)
				}
				return
			}
			if got.AffinityTimeout != tt.timeout {
				t.Errorf("affinity timeout %v, want %v", got.AffinityTimeout, tt.timeout)
			}
			if len(got.Ports) != len(tt.want) {
				t.Fatalf("got %d frontends, want %d: %+v", len(got.Ports), len(tt.want), got.Ports)
			}
			for _, p := range got.Ports {
				want, ok := tt.want[p.Frontend.String()]
				if !ok {
					t.Fatalf("unexpected frontend %s", p.Frontend)
				}
				if g := addrs(p.Backends); !equal(g, want) {
					t.Errorf("%s: backends %v, want %v", p.Frontend, g, want)
				}
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSelectBackends(t *testing.T) {
	b := func(ip string, ready, serving, term bool, node string) Backend {
		return Backend{IP: netip.MustParseAddr(ip), Port: 80, Ready: ready, Serving: serving, Terminating: term, NodeName: node}
	}
	all := []Backend{
		b("10.0.0.1", true, true, false, "n1"),
		b("10.0.0.2", false, true, true, "n2"),
		b("10.0.0.3", false, false, true, "n1"),
		b("10.0.0.4", true, true, false, "n2"),
		b("10.0.0.5", false, true, true, "n1"),
	}
	tests := []struct {
		name  string
		in    []Backend
		local bool
		want  []string
	}{
		{"cluster: ready only", all, false, []string{"10.0.0.1:80", "10.0.0.4:80"}},
		{"local: ready on node", all, true, []string{"10.0.0.1:80"}},
		{"cluster: fallback to serving terminating", all[1:3], false, []string{"10.0.0.2:80"}},
		{"local: fallback to local serving terminating", all[1:], true, []string{"10.0.0.5:80"}},
		{"nothing usable", all[2:3], false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := addrs(SelectBackends(tt.in, tt.local, "n1")); !equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFromKubernetesNodePort(t *testing.T) {
	web := map[string]int32{"http": 8080}
	slices := []*discoveryv1.EndpointSlice{slice("a", web, ep{ip: "10.244.0.2", ready: yes, node: "n1"}, ep{ip: "10.244.1.2", ready: yes, node: "n2"})}
	tests := []struct {
		name              string
		etp               corev1.ServiceExternalTrafficPolicy
		cluster, nodePort []string
	}{
		{"externalTrafficPolicy Cluster", corev1.ServiceExternalTrafficPolicyCluster, []string{"10.244.0.2:8080", "10.244.1.2:8080"}, []string{"10.244.0.2:8080", "10.244.1.2:8080"}},
		{"externalTrafficPolicy Local", corev1.ServiceExternalTrafficPolicyLocal, []string{"10.244.0.2:8080", "10.244.1.2:8080"}, []string{"10.244.0.2:8080"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := service(func(s *corev1.Service) {
				s.Spec.Type = corev1.ServiceTypeNodePort
				s.Spec.ExternalTrafficPolicy = tt.etp
				s.Spec.Ports[0].NodePort = 30080
			})
			got := FromKubernetes(svc, slices, "n1")
			p := got.Ports[0]
			if p.NodePort != 30080 {
				t.Errorf("node port %d, want 30080", p.NodePort)
			}
			if g := addrs(p.Backends); !equal(g, tt.cluster) {
				t.Errorf("cluster IP backends %v, want %v", g, tt.cluster)
			}
			if g := addrs(p.NodePortBackends); !equal(g, tt.nodePort) {
				t.Errorf("node port backends %v, want %v", g, tt.nodePort)
			}
		})
	}
}
