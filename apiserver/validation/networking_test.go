package validation

import (
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// errorsText joins the errors as the API's causes read, one a line.
func errorsText(errs field.ErrorList) string {
	var lines []string
	for _, e := range errs {
		lines = append(lines, e.Error())
	}
	return strings.Join(lines, "\n")
}

func ingressWith(mutate func(*networkingv1.Ingress)) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: networkingv1.IngressSpec{
		Rules: []networkingv1.IngressRule{{Host: "a.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "svc", Port: networkingv1.ServiceBackendPort{Number: 80}}}}},
		}}}},
	}}
	if mutate != nil {
		mutate(ing)
	}
	return ing
}

func path0(ing *networkingv1.Ingress) *networkingv1.HTTPIngressPath {
	return &ing.Spec.Rules[0].HTTP.Paths[0]
}

func TestIngressCreate(t *testing.T) {
	for _, tc := range []struct {
		name string
		ing  *networkingv1.Ingress
		want string
	}{
		{"valid", ingressWith(nil), ""},
		{"wildcard host", ingressWith(func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "*.example.com" }), ""},
		{"no host", ingressWith(func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "" }), ""},
		{"default backend only", &networkingv1.Ingress{Spec: networkingv1.IngressSpec{DefaultBackend: &networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: "svc", Port: networkingv1.ServiceBackendPort{Name: "http"}}}}}, ""},
		{"nothing", &networkingv1.Ingress{}, "spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"},
		{"ip host", ingressWith(func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "10.0.0.1" }),
			`spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address`},
		{"no pathType", ingressWith(func(i *networkingv1.Ingress) { path0(i).PathType = nil }),
			"spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"},
		{"unknown pathType", ingressWith(func(i *networkingv1.Ingress) { path0(i).PathType = ptr.To(networkingv1.PathType("Regex")) }),
			`spec.rules[0].http.paths[0].pathType: Unsupported value: "Regex": supported values: "Exact", "ImplementationSpecific", "Prefix"`},
		{"relative exact path", ingressWith(func(i *networkingv1.Ingress) {
			path0(i).Path, path0(i).PathType = "a/./b", ptr.To(networkingv1.PathTypeExact)
		}), `spec.rules[0].http.paths[0].path: Invalid value: "a/./b": must be an absolute path` + "\n" +
			`spec.rules[0].http.paths[0].path: Invalid value: "a/./b": must not contain '/./'`},
		{"empty implementation specific path", ingressWith(func(i *networkingv1.Ingress) {
			path0(i).Path, path0(i).PathType = "", ptr.To(networkingv1.PathTypeImplementationSpecific)
		}), ""},
		{"no paths", ingressWith(func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths = nil }), "spec.rules[0].http.paths: Required value"},
		{"no port", ingressWith(func(i *networkingv1.Ingress) { path0(i).Backend.Service.Port = networkingv1.ServiceBackendPort{} }),
			"spec.rules[0].http.paths[0].backend: Required value: port name or number is required"},
		{"service name a DNS label", ingressWith(func(i *networkingv1.Ingress) { path0(i).Backend.Service.Name = "1svc" }), ""},
		{"annotation disagrees", ingressWith(func(i *networkingv1.Ingress) {
			i.Spec.IngressClassName = ptr.To("a")
			i.Annotations = map[string]string{annotationIngressClass: "b"}
		}), "annotations.kubernetes.io/ingress.class: Invalid value: \"b\": must match `ingressClassName` when both are specified"},
	} {
		if got := errorsText(IngressCreate(tc.ing)); got != tc.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestIngressUpdateKeepsOldMistakes(t *testing.T) {
	old := ingressWith(func(i *networkingv1.Ingress) {
		i.Spec.TLS = []networkingv1.IngressTLS{{SecretName: "Bad_Name"}}
		i.Spec.Rules[0].Host = "*.example.com"
		i.Spec.Rules[0].HTTP.Paths[0].PathType = nil
	})
	if errs := IngressUpdate(old.DeepCopy(), old); len(errs) != 0 {
		t.Errorf("update keeping the old mistakes: %v", errs)
	}
	if errs := IngressCreate(old); len(errs) != 2 {
		t.Errorf("create with them: %v, want 2 errors", errs)
	}
	annotated := ingressWith(func(i *networkingv1.Ingress) {
		i.Spec.IngressClassName = ptr.To("a")
		i.Annotations = map[string]string{annotationIngressClass: "b"}
	})
	if errs := IngressUpdate(annotated, annotated); len(errs) != 0 {
		t.Errorf("an update does not compare the annotation: %v", errs)
	}
}

func TestIngressClass(t *testing.T) {
	params := func(p networkingv1.IngressClassParametersReference) *networkingv1.IngressClass {
		return &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Controller: "example.com/c", Parameters: &p}}
	}
	for _, tc := range []struct {
		name string
		ic   *networkingv1.IngressClass
		want string
	}{
		{"valid", &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}}, ""},
		{"no controller", &networkingv1.IngressClass{}, "spec.controller: Required value"},
		{"not domain-prefixed", &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Controller: "nginx"}},
			`spec.controller: Invalid value: "nginx": must be a domain-prefixed path (such as "acme.io/foo")`},
		{"cluster parameters", params(networkingv1.IngressClassParametersReference{Kind: "K", Name: "n", Scope: ptr.To("Cluster")}), ""},
		// kind and name are upstream's declarative rules: listed last.
		{"empty parameters", params(networkingv1.IngressClassParametersReference{Scope: ptr.To("Global")}),
			`spec.parameters.scope: Unsupported value: "Global": supported values: "Cluster", "Namespace"` + "\n" +
				"spec.parameters.kind: Required value\nspec.parameters.name: Required value"},
		{"no scope", params(networkingv1.IngressClassParametersReference{Kind: "K", Name: "n"}), "spec.parameters.scope: Required value"},
		{"namespace scope without namespace", params(networkingv1.IngressClassParametersReference{Kind: "K", Name: "n", Scope: ptr.To("Namespace")}),
			"spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'"},
		{"cluster scope with namespace", params(networkingv1.IngressClassParametersReference{Kind: "K", Name: "n", Scope: ptr.To("Cluster"), Namespace: ptr.To("ns")}),
			"spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"},
	} {
		if got := errorsText(IngressClass(tc.ic)); got != tc.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tc.name, got, tc.want)
		}
	}
	old := &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Controller: "example.com/a"}}
	changed := &networkingv1.IngressClass{Spec: networkingv1.IngressClassSpec{Controller: "example.com/b"}}
	if got, want := errorsText(IngressClassUpdate(changed, old)), `spec.controller: Invalid value: "example.com/b": field is immutable`; got != want {
		t.Errorf("controller change:\ngot  %s\nwant %s", got, want)
	}
}

func TestNetworkPolicy(t *testing.T) {
	peer := func(p networkingv1.NetworkPolicyPeer) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{p}}}}}
	}
	port := func(p networkingv1.NetworkPolicyPort) *networkingv1.NetworkPolicy {
		return &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{p}}}}}
	}
	for _, tc := range []struct {
		name string
		np   *networkingv1.NetworkPolicy
		want string
	}{
		{"deny all", &networkingv1.NetworkPolicy{}, ""},
		{"ipBlock", peer(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}}), ""},
		{"no peer", peer(networkingv1.NetworkPolicyPeer{}), "spec.ingress[0].from[0]: Required value: must specify a peer"},
		{"ipBlock and selector", peer(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}, NamespaceSelector: &metav1.LabelSelector{}}),
			"spec.ingress[0].from[0]: Forbidden: may not specify both ipBlock and another peer"},
		{"except outside", peer(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16", Except: []string{"10.0.0.0/8"}}}),
			"spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: \"10.0.0.0/8\": must be a strict subset of `cidr`"},
		{"bits beyond prefix", peer(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.1/8"}}),
			`spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.1/8": must not have bits set beyond the prefix length`},
		{"endPort below port", port(networkingv1.NetworkPolicyPort{Port: ptr.To(intstr.FromInt32(90)), EndPort: ptr.To[int32](80)}),
			"spec.egress[0].ports[0].endPort: Invalid value: 80: must be greater than or equal to `port`"},
		{"endPort with named port", port(networkingv1.NetworkPolicyPort{Port: ptr.To(intstr.FromString("http")), EndPort: ptr.To[int32](80)}),
			"spec.egress[0].ports[0].endPort: Invalid value: 80: may not be specified when `port` is non-numeric"},
		{"unknown policy type", &networkingv1.NetworkPolicy{Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"Both"}}},
			`spec.policyTypes[0]: Unsupported value: "Both": supported values: "Ingress", "Egress"`},
	} {
		if got := errorsText(NetworkPolicy(tc.np)); got != tc.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tc.name, got, tc.want)
		}
	}
	// An update keeps a CIDR the old policy held, though it is not canonical.
	old := peer(networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.1/8"}})
	if errs := NetworkPolicyUpdate(old.DeepCopy(), old); len(errs) != 0 {
		t.Errorf("update keeping the old CIDR: %v", errs)
	}
	if w := NetworkPolicyWarnings(old, true); len(w) != 1 {
		t.Errorf("warnings = %v, want one for the kept CIDR", w)
	}
}
