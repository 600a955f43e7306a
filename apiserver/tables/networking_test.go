package tables

import (
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

func TestIngressHosts(t *testing.T) {
	rules := func(hosts ...string) []networkingv1.IngressRule {
		var out []networkingv1.IngressRule
		for _, h := range hosts {
			out = append(out, networkingv1.IngressRule{Host: h})
		}
		return out
	}
	for _, tc := range []struct {
		rules []networkingv1.IngressRule
		want  string
	}{
		{nil, "*"},
		{rules(""), "*"},
		{rules("a", "", "b"), "a,b"},
		{rules("a", "b", "c"), "a,b,c"},
		// Three hosts shown; the count is of the rules beyond three.
		{rules("a", "b", "c", "d", "e"), "a,b,c + 2 more..."},
		{rules("", "a", "b", "c", "d"), "a,b,c + 2 more..."},
	} {
		var hosts []string
		for _, r := range tc.rules {
			hosts = append(hosts, r.Host)
		}
		if got := ingressHosts(tc.rules); got != tc.want {
			t.Errorf("ingressHosts(%s) = %q, want %q", strings.Join(hosts, "|"), got, tc.want)
		}
	}
}

func TestIngressAddress(t *testing.T) {
	s := networkingv1.IngressLoadBalancerStatus{Ingress: []networkingv1.IngressLoadBalancerIngress{
		{IP: "10.0.0.2"}, {Hostname: "lb.example.com"}, {IP: "10.0.0.1", Hostname: "ignored"}, {IP: "10.0.0.2"}, {}}}
	if got, want := ingressAddress(s), "10.0.0.1,10.0.0.2,lb.example.com"; got != want {
		t.Errorf("ingressAddress = %q, want %q", got, want)
	}
}
