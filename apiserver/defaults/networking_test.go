package defaults

import (
	"encoding/json"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func TestNetworkPolicy(t *testing.T) {
	port := func(p *corev1.Protocol) []networkingv1.NetworkPolicyPort {
		return []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(80)), Protocol: p}}
	}
	for _, tc := range []struct {
		name string
		spec networkingv1.NetworkPolicySpec
		want string
	}{
		{"empty: ingress", networkingv1.NetworkPolicySpec{},
			`{"podSelector":{},"policyTypes":["Ingress"]}`},
		{"egress rules: both", networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: port(nil)}}},
			`{"podSelector":{},"egress":[{"ports":[{"protocol":"TCP","port":80}]}],"policyTypes":["Ingress","Egress"]}`},
		{"types kept", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: port(ptr.To(corev1.ProtocolUDP))}}},
			`{"podSelector":{},"ingress":[{"ports":[{"protocol":"UDP","port":80}]}],"policyTypes":["Egress"]}`},
		{"ingress port", networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: port(nil)}}},
			`{"podSelector":{},"ingress":[{"ports":[{"protocol":"TCP","port":80}]}],"policyTypes":["Ingress"]}`},
	} {
		np := &networkingv1.NetworkPolicy{Spec: tc.spec}
		NetworkPolicy(np)
		got, _ := json.Marshal(np.Spec)
		if string(got) != tc.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestIngressClass(t *testing.T) {
	ic := &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Parameters: &networkingv1.IngressClassParametersReference{Kind: "K", Name: "n"}}}
	IngressClass(ic)
	if got := ptr.Deref(ic.Spec.Parameters.Scope, ""); got != networkingv1.IngressClassParametersReferenceScopeCluster {
		t.Errorf("scope = %q, want Cluster", got)
	}
	ic = &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Parameters: &networkingv1.IngressClassParametersReference{Scope: ptr.To("Namespace")}}}
	IngressClass(ic)
	if got := *ic.Spec.Parameters.Scope; got != "Namespace" {
		t.Errorf("scope = %q, want Namespace kept", got)
	}
	IngressClass(&networkingv1.IngressClass{})
}
