package network

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestResolvConf(t *testing.T) {
	dns := DNSConfig{ClusterDNS: "10.96.0.10", ClusterDomain: "cluster.local", HostResolvConf: "nameserver 192.0.2.1\nsearch example.org\n"}
	two := "2"
	for _, tc := range []struct {
		name string
		spec corev1.PodSpec
		want string
	}{
		{"cluster first by default", corev1.PodSpec{},
			"search web.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"},
		{"default copies the node", corev1.PodSpec{DNSPolicy: corev1.DNSDefault},
			"search example.org\nnameserver 192.0.2.1\n"},
		{"host network falls back to the node", corev1.PodSpec{HostNetwork: true},
			"search example.org\nnameserver 192.0.2.1\n"},
		{"none uses dnsConfig only", corev1.PodSpec{DNSPolicy: corev1.DNSNone, DNSConfig: &corev1.PodDNSConfig{
			Nameservers: []string{"1.2.3.4"}, Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}}}},
			"nameserver 1.2.3.4\noptions ndots:2\n"},
		{"dnsConfig options override", corev1.PodSpec{DNSConfig: &corev1.PodDNSConfig{Options: []corev1.PodDNSConfigOption{{Name: "ndots", Value: &two}}}},
			"search web.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "p"}, Spec: tc.spec}
			if got := ResolvConf(pod, dns); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestHostsFile(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "web-0"},
		Spec: corev1.PodSpec{Subdomain: "nginx", HostAliases: []corev1.HostAlias{{IP: "10.1.1.1", Hostnames: []string{"a", "b"}}}}}
	got := HostsFile(pod, "10.244.0.5", "cluster.local")
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.244.0.5\tweb-0.nginx.web.svc.cluster.local\tweb-0\n", "10.1.1.1\ta\tb\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("hosts file lacks %q:\n%s", want, got)
		}
	}
}
