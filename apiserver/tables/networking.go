package tables

import (
	"fmt"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Ingresses: NAME CLASS HOSTS ADDRESS PORTS AGE, with upstream's column
// descriptions. The server prints tables wide, so ADDRESS is never clipped.
var Ingresses rest.TableConvertor = For([]Column{
	{Name: "Class", Description: "The name of the IngressClass resource that should be used for additional configuration"},
	{Name: "Hosts", Description: "Hosts that incoming requests are matched against before the ingress rule"},
	{Name: "Address", Description: "Address is a list containing ingress points for the load-balancer"},
	{Name: "Ports", Description: "Ports of TLS configurations that open"},
	age,
}, func(ing *networkingv1.Ingress) []any {
	class := "<none>"
	if ing.Spec.IngressClassName != nil {
		class = *ing.Spec.IngressClassName
	}
	ports := "80"
	if len(ing.Spec.TLS) != 0 {
		ports = "80, 443"
	}
	return []any{class, ingressHosts(ing.Spec.Rules), ingressAddress(ing.Status.LoadBalancer), ports, Age(ing.CreationTimestamp)}
})

// ingressHosts lists the first three rules' hosts ("*" when none names
// one) and counts the rules beyond them, as kubectl always has.
func ingressHosts(rules []networkingv1.IngressRule) string {
	const shown = 3
	var hosts []string
	more := false
	for _, r := range rules {
		if len(hosts) == shown {
			more = true
		}
		if !more && r.Host != "" {
			hosts = append(hosts, r.Host)
		}
	}
	if len(hosts) == 0 {
		return "*"
	}
	out := strings.Join(hosts, ",")
	if more {
		out = fmt.Sprintf("%s + %d more...", out, len(rules)-shown)
	}
	return out
}

// ingressAddress is the sorted, distinct IPs (or hostnames, where an entry
// has no IP) of the load balancer.
func ingressAddress(s networkingv1.IngressLoadBalancerStatus) string {
	var out []string
	for _, i := range s.Ingress {
		a := i.IP
		if a == "" {
			a = i.Hostname
		}
		if a != "" && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// IngressClasses: NAME CONTROLLER PARAMETERS AGE; the default class's name
// says so ("nginx (default)"), so the convertor writes the name cell itself.
var IngressClasses rest.TableConvertor = ingressClasses()

func ingressClasses() rest.TableConvertor {
	c := For([]Column{
		{Name: "Controller", Description: "Controller that is responsible for handling this class"},
		{Name: "Parameters", Description: "A reference to a resource with additional parameters"},
		age,
	}, ingressClassRow).(*convertor[*networkingv1.IngressClass])
	c.noName = true
	return c
}

func ingressClassRow(ic *networkingv1.IngressClass) []any {
	name := ic.Name
	if ic.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true" {
		name += " (default)"
	}
	params := "<none>"
	if p := ic.Spec.Parameters; p != nil {
		params = p.Kind
		if p.APIGroup != nil {
			params += "." + *p.APIGroup
		}
		params += "/" + p.Name
	}
	return []any{name, ic.Spec.Controller, params, Age(ic.CreationTimestamp)}
}

// NetworkPolicies: NAME POD-SELECTOR AGE.
var NetworkPolicies rest.TableConvertor = For([]Column{
	{Name: "Pod-Selector", Description: networkingv1.NetworkPolicySpec{}.SwaggerDoc()["podSelector"]},
	age,
}, func(np *networkingv1.NetworkPolicy) []any {
	return []any{metav1.FormatLabelSelector(&np.Spec.PodSelector), Age(np.CreationTimestamp)}
})
