package apiserver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

const chartNetworking = `apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: chart-nginx
  annotations:
    ingressclass.kubernetes.io/is-default-class: "true"
spec:
  controller: k8s.io/ingress-nginx
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: chart-web
  namespace: networking
  annotations:
    nginx.ingress.kubernetes.io/rewrite-target: /
spec:
  ingressClassName: chart-nginx
  tls:
  - hosts: [web.example.com]
    secretName: web-tls
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              name: http
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: chart-deny-all
  namespace: networking
spec:
  podSelector: {}
`

// legacyIngress names its class by the annotation that predates
// spec.ingressClassName: it is warned about and not given the default class.
const legacyIngress = `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: legacy
  namespace: networking
  annotations:
    kubernetes.io/ingress.class: traefik
spec:
  defaultBackend:
    service:
      name: legacy
      port:
        number: 8080
`

// netIngress is an Ingress with one rule routing / of host to svc:80.
func netIngress(name, host string, mutate func(*networkingv1.Ingress)) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.IngressSpec{
		Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "svc", Port: networkingv1.ServiceBackendPort{Number: 80}}}}},
		}}}},
	}}
	if mutate != nil {
		mutate(ing)
	}
	return ing
}

func netPolicy(name string, mutate func(*networkingv1.NetworkPolicy)) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}}}
	if mutate != nil {
		mutate(np)
	}
	return np
}

func ingressClass(name, controller string, mutate func(*networkingv1.IngressClass)) *networkingv1.IngressClass {
	ic := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.IngressClassSpec{Controller: controller}}
	if mutate != nil {
		mutate(ic)
	}
	return ic
}

// describeNet renders what a client reads of a networking object: its
// generation, spec and status, or the error.
func describeNet(generation int64, spec, status any, err error) string {
	if err != nil {
		return outcome(err)
	}
	s, _ := json.Marshal(spec)
	out := fmt.Sprintf("generation=%d spec=%s", generation, s)
	if status != nil {
		st, _ := json.Marshal(status)
		out += " status=" + string(st)
	}
	return out
}

// withoutAgeColumn drops the column headed AGE from kubectl's table output
// and the padding, which follows the widest cell of each column.
func withoutAgeColumn(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var kept []string
	ageAt := -1
	for _, line := range lines {
		if strings.HasPrefix(line, "NAME") {
			ageAt = strings.Index(line, "AGE")
			kept = append(kept, strings.Join(strings.Fields(strings.Replace(line, "AGE", "", 1)), " "))
			continue
		}
		if ageAt >= 0 && len(line) > ageAt {
			rest := line[ageAt:]
			end := strings.IndexByte(rest, ' ')
			if end < 0 {
				end = len(rest)
			}
			line = line[:ageAt] + rest[end:]
		}
		kept = append(kept, strings.Join(strings.Fields(line), " "))
	}
	return strings.Join(kept, "\n")
}

// TestNetworking: networking.k8s.io/v1 Ingresses, IngressClasses and
// NetworkPolicies are served as kube-apiserver serves them: discovery,
// OpenAPI (kubectl explain), defaulting, validation with upstream's codes
// and causes, the ingress status subresource, tables and kubectl get, a
// chart's manifests applied with kubectl, and the bootstrap roles' grants.
func TestNetworking(t *testing.T) {
	kubectlBin := kubectlAny(t)
	compareControlPlanes(t, func(t *testing.T, cp controlPlane) map[string]string {
		ctx := ctxT(t)
		c := kubernetes.NewForConfigOrDie(cp.config)
		seen := map[string]string{}
		step := func(key string, err error) { seen[key] = outcome(err) }
		ns := "networking"
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		ours := []string{"ingresses", "ingresses/status", "ingressclasses", "networkpolicies"}

		// The group, its resources and their schema.
		groups, err := c.Discovery().ServerGroups()
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range groups.Groups {
			if g.Name == networkingv1.GroupName {
				seen["group"] = fmt.Sprintf("preferred=%s", g.PreferredVersion.GroupVersion)
			}
		}
		resources, err := c.Discovery().ServerResourcesForGroupVersion(networkingv1.SchemeGroupVersion.String())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resources.APIResources {
			if !slices.Contains(ours, r.Name) {
				continue
			}
			verbs := slices.Sorted(slices.Values(r.Verbs))
			seen["discovery "+r.Name] = fmt.Sprintf("singular=%s namespaced=%t kind=%s verbs=%v shortNames=%v categories=%v hash=%s",
				r.SingularName, r.Namespaced, r.Kind, verbs, r.ShortNames, r.Categories, r.StorageVersionHash)
		}
		var apiResources []string
		for _, line := range strings.Split(kubectl(t, kubectlBin, cp.kubeconfig, "", "api-resources", "--api-group=networking.k8s.io"), "\n") {
			if f := strings.Fields(line); len(f) > 0 && (f[0] == "NAME" || slices.Contains(ours, f[0])) {
				apiResources = append(apiResources, strings.Join(f, " "))
			}
		}
		seen["kubectl api-resources"] = strings.Join(apiResources, "\n")
		seen["kubectl explain ing"] = kubectl(t, kubectlBin, cp.kubeconfig, "", "explain", "ingress.spec.rules.http.paths.pathType")
		seen["kubectl explain netpol"] = kubectl(t, kubectlBin, cp.kubeconfig, "", "explain", "netpol.spec.policyTypes")
		seen["kubectl explain ingressclass"] = kubectl(t, kubectlBin, cp.kubeconfig, "", "explain", "ingressclass.spec.parameters.scope")

		// A chart's manifests, applied as Helm or kubectl apply would.
		for i, args := range [][]string{{"apply", "-f", "-"}, {"apply", "-f", "-"}, {"apply", "--server-side", "--force-conflicts", "-f", "-"}} {
			seen[fmt.Sprintf("kubectl %d: %s", i, strings.Join(args, " "))] = kubectl(t, kubectlBin, cp.kubeconfig, chartNetworking, args...)
		}

		seen["kubectl apply legacy ingress"] = kubectl(t, kubectlBin, cp.kubeconfig, legacyIngress, "apply", "-f", "-")
		seen["legacy ingress class"] = kubectl(t, kubectlBin, cp.kubeconfig, "", "get", "ing", "legacy", "-n", ns, "-o", "jsonpath={.spec.ingressClassName}")

		// Created objects, with what defaulting adds.
		ings, classes, policies := c.NetworkingV1().Ingresses(ns), c.NetworkingV1().IngressClasses(), c.NetworkingV1().NetworkPolicies(ns)
		createIng := func(key string, ing *networkingv1.Ingress) {
			got, err := ings.Create(ctx, ing, metav1.CreateOptions{})
			if err != nil {
				seen["ingress "+key] = outcome(err)
				return
			}
			seen["ingress "+key] = describeNet(got.Generation, got.Spec, got.Status, nil)
		}
		createClass := func(key string, ic *networkingv1.IngressClass) {
			got, err := classes.Create(ctx, ic, metav1.CreateOptions{})
			if err != nil {
				seen["ingressclass "+key] = outcome(err)
				return
			}
			seen["ingressclass "+key] = describeNet(got.Generation, got.Spec, nil, nil)
		}
		createPolicy := func(key string, np *networkingv1.NetworkPolicy) {
			got, err := policies.Create(ctx, np, metav1.CreateOptions{})
			if err != nil {
				seen["netpol "+key] = outcome(err)
				return
			}
			seen["netpol "+key] = describeNet(got.Generation, got.Spec, nil, nil)
		}

		createIng("web", netIngress("web", "a.example.com", func(ing *networkingv1.Ingress) {
			ing.Spec.IngressClassName = ptr.To("chart-nginx")
			ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.0.0.1"}}
			ing.Spec.Rules = append(ing.Spec.Rules,
				networkingv1.IngressRule{Host: "b.example.com", IngressRuleValue: ing.Spec.Rules[0].IngressRuleValue},
				networkingv1.IngressRule{Host: "*.c.example.com", IngressRuleValue: ing.Spec.Rules[0].IngressRuleValue},
				networkingv1.IngressRule{Host: "d.example.com", IngressRuleValue: ing.Spec.Rules[0].IngressRuleValue})
		}))
		createIng("default backend only", &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: "catch-all"}, Spec: networkingv1.IngressSpec{
			DefaultBackend: &networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{APIGroup: ptr.To("k8s.example.com"), Kind: "StorageBucket", Name: "static"}}}})
		createIng("implementation specific empty path", netIngress("impl", "", func(ing *networkingv1.Ingress) {
			ing.Spec.Rules[0].HTTP.Paths[0].PathType = ptr.To(networkingv1.PathTypeImplementationSpecific)
			ing.Spec.Rules[0].HTTP.Paths[0].Path = ""
		}))
		createClass("with parameters", ingressClass("with-params", "example.com/ingress", func(ic *networkingv1.IngressClass) {
			ic.Spec.Parameters = &networkingv1.IngressClassParametersReference{APIGroup: ptr.To("k8s.example.com"), Kind: "IngressParameters", Name: "external-lb"}
		}))
		createClass("namespaced parameters", ingressClass("ns-params", "example.com/ingress", func(ic *networkingv1.IngressClass) {
			ic.Spec.Parameters = &networkingv1.IngressClassParametersReference{Kind: "ConfigMap", Name: "cfg",
				Scope: ptr.To(networkingv1.IngressClassParametersReferenceScopeNamespace), Namespace: ptr.To(ns)}
		}))
		createPolicy("ingress only", netPolicy("ingress-only", func(np *networkingv1.NetworkPolicy) {
			np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{
				From: []networkingv1.NetworkPolicyPeer{
					{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "frontend"}}, NamespaceSelector: &metav1.LabelSelector{}},
					{IPBlock: &networkingv1.IPBlock{CIDR: "172.17.0.0/16", Except: []string{"172.17.1.0/24"}}},
				},
				Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(6379))}, {Port: ptr.To(intstr.FromString("metrics")), Protocol: ptr.To(corev1.ProtocolUDP)}},
			}}
		}))
		createPolicy("with egress", netPolicy("with-egress", func(np *networkingv1.NetworkPolicy) {
			np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{
				To:    []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/24"}}},
				Ports: []networkingv1.NetworkPolicyPort{{Port: ptr.To(intstr.FromInt32(5978)), EndPort: ptr.To[int32](6000)}},
			}}
		}))
		createPolicy("egress only", netPolicy("egress-only", func(np *networkingv1.NetworkPolicy) {
			np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
		}))

		// What validation refuses.
		for key, ing := range map[string]*networkingv1.Ingress{
			"no rules no backend": {ObjectMeta: metav1.ObjectMeta{Name: "empty"}},
			"ip host":             netIngress("ip-host", "1.2.3.4", nil),
			"bad host":            netIngress("bad-host", "Bad_Host.example.com", nil),
			"bad wildcard host":   netIngress("bad-wildcard", "foo.*.example.com", nil),
			"no path type":        netIngress("no-path-type", "a.example.com", func(ing *networkingv1.Ingress) { ing.Spec.Rules[0].HTTP.Paths[0].PathType = nil }),
			"unknown path type": netIngress("bad-path-type", "a.example.com", func(ing *networkingv1.Ingress) {
				ing.Spec.Rules[0].HTTP.Paths[0].PathType = ptr.To(networkingv1.PathType("Regex"))
			}),
			"relative path": netIngress("relative", "a.example.com", func(ing *networkingv1.Ingress) { ing.Spec.Rules[0].HTTP.Paths[0].Path = "api" }),
			"bad path sequences": netIngress("bad-seq", "a.example.com", func(ing *networkingv1.Ingress) {
				ing.Spec.Rules[0].HTTP.Paths[0].Path = "/a//b/.."
			}),
			"no paths": netIngress("no-paths", "a.example.com", func(ing *networkingv1.Ingress) { ing.Spec.Rules[0].HTTP.Paths = nil }),
			"no backend": netIngress("no-backend", "a.example.com", func(ing *networkingv1.Ingress) {
				ing.Spec.Rules[0].HTTP.Paths[0].Backend = networkingv1.IngressBackend{}
			}),
			"both backends": netIngress("both-backends", "a.example.com", func(ing *networkingv1.Ingress) {
				ing.Spec.Rules[0].HTTP.Paths[0].Backend.Resource = &corev1.TypedLocalObjectReference{Kind: "Bucket", Name: "b"}
			}),
			"no service name and port": netIngress("no-service", "a.example.com", func(ing *networkingv1.Ingress) {
				ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service = &networkingv1.IngressServiceBackend{}
			}),
			"port name and number": netIngress("both-ports", "a.example.com", func(ing *networkingv1.Ingress) {
				ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Name = "http"
			}),
			"bad service name and port": netIngress("bad-service", "a.example.com", func(ing *networkingv1.Ingress) {
				ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service = &networkingv1.IngressServiceBackend{Name: "My.Svc", Port: networkingv1.ServiceBackendPort{Number: 70000}}
			}),
			"bad default backend": {ObjectMeta: metav1.ObjectMeta{Name: "bad-default"}, Spec: networkingv1.IngressSpec{
				DefaultBackend: &networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{APIGroup: ptr.To("Bad_Group")}}}},
			"bad class name": netIngress("bad-class", "a.example.com", func(ing *networkingv1.Ingress) { ing.Spec.IngressClassName = ptr.To("Nginx_Class") }),
			"annotation disagrees": netIngress("disagrees", "a.example.com", func(ing *networkingv1.Ingress) {
				ing.Spec.IngressClassName = ptr.To("nginx")
				ing.Annotations = map[string]string{"kubernetes.io/ingress.class": "traefik"}
			}),
			"bad tls": netIngress("bad-tls", "a.example.com", func(ing *networkingv1.Ingress) {
				ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"*.*.example.com", "ok.example.com"}, SecretName: "Bad_Secret"}}
			}),
		} {
			_, err := ings.Create(ctx, ing, metav1.CreateOptions{})
			step("invalid ingress: "+key, err)
		}
		for key, ic := range map[string]*networkingv1.IngressClass{
			"no controller":   ingressClass("no-controller", "", nil),
			"bad controller":  ingressClass("bad-controller", "nginx", nil),
			"long controller": ingressClass("long-controller", "example.com/"+strings.Repeat("a", 250), nil),
			"empty parameters": ingressClass("empty-params", "example.com/x", func(ic *networkingv1.IngressClass) {
				ic.Spec.Parameters = &networkingv1.IngressClassParametersReference{}
			}),
			"unknown scope": ingressClass("unknown-scope", "example.com/x", func(ic *networkingv1.IngressClass) {
				ic.Spec.Parameters = &networkingv1.IngressClassParametersReference{Kind: "K", Name: "n", Scope: ptr.To("Global")}
			}),
			"namespace missing": ingressClass("ns-missing", "example.com/x", func(ic *networkingv1.IngressClass) {
				ic.Spec.Parameters = &networkingv1.IngressClassParametersReference{Kind: "K", Name: "n", Scope: ptr.To("Namespace")}
			}),
			"cluster with namespace": ingressClass("cluster-ns", "example.com/x", func(ic *networkingv1.IngressClass) {
				ic.Spec.Parameters = &networkingv1.IngressClassParametersReference{Kind: "K", Name: "a/b", Namespace: ptr.To("x")}
			}),
		} {
			_, err := classes.Create(ctx, ic, metav1.CreateOptions{})
			step("invalid ingressclass: "+key, err)
		}
		for key, np := range map[string]*networkingv1.NetworkPolicy{
			"bad pod selector": netPolicy("bad-selector", func(np *networkingv1.NetworkPolicy) {
				np.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": "not valid!"},
					MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: "Near"}}}
			}),
			"bad ports": netPolicy("bad-ports", func(np *networkingv1.NetworkPolicy) {
				np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{
					{Protocol: ptr.To(corev1.Protocol("ICMP")), Port: ptr.To(intstr.FromInt32(0))},
					{Port: ptr.To(intstr.FromInt32(100)), EndPort: ptr.To[int32](50)},
					{Port: ptr.To(intstr.FromString("http")), EndPort: ptr.To[int32](90)},
					{Port: ptr.To(intstr.FromString("Not_A_Name"))},
					{EndPort: ptr.To[int32](90)},
				}}}
			}),
			"empty peer": netPolicy("empty-peer", func(np *networkingv1.NetworkPolicy) {
				np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{}}}}
			}),
			"ipBlock with selector": netPolicy("ipblock-and-selector", func(np *networkingv1.NetworkPolicy) {
				np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{
					IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}, PodSelector: &metav1.LabelSelector{}}}}}
			}),
			"bad cidrs": netPolicy("bad-cidrs", func(np *networkingv1.NetworkPolicy) {
				np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
					{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.1/8"}},
					{IPBlock: &networkingv1.IPBlock{CIDR: "300.0.0.0/8"}},
					{IPBlock: &networkingv1.IPBlock{}},
					{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16", Except: []string{"10.1.0.0/24", "10.0.0.0/16", "10.0.5.0/24", "bogus"}}},
					{IPBlock: &networkingv1.IPBlock{CIDR: "010.0.0.0/8"}},
				}}}
			}),
			"bad policy types": netPolicy("bad-types", func(np *networkingv1.NetworkPolicy) {
				np.Spec.PolicyTypes = []networkingv1.PolicyType{"Ingress", "Sideways"}
			}),
			"too many policy types": netPolicy("many-types", func(np *networkingv1.NetworkPolicy) {
				np.Spec.PolicyTypes = []networkingv1.PolicyType{"Ingress", "Egress", "Ingress"}
			}),
		} {
			_, err := policies.Create(ctx, np, metav1.CreateOptions{})
			step("invalid netpol: "+key, err)
		}

		// Updates: the controller is immutable, generation counts spec
		// changes, and status is the status subresource's.
		ic, err := classes.Get(ctx, "with-params", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ic.Spec.Controller = "example.com/other"
		_, err = classes.Update(ctx, ic, metav1.UpdateOptions{})
		step("update ingressclass controller", err)
		ic.Spec.Controller = "bad"
		ic.Spec.Parameters.Name, ic.Spec.Parameters.Scope = "", ptr.To("Namespace")
		_, err = classes.Update(ctx, ic, metav1.UpdateOptions{})
		step("update ingressclass controller and parameters", err)
		ic, err = classes.Get(ctx, "with-params", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ic.Spec.Parameters.Name = "internal-lb"
		gotIC, err := classes.Update(ctx, ic, metav1.UpdateOptions{})
		if err == nil {
			seen["update ingressclass parameters"] = describeNet(gotIC.Generation, gotIC.Spec, nil, nil)
		} else {
			seen["update ingressclass parameters"] = outcome(err)
		}
		bad, err := ings.Get(ctx, "impl", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		bad.Spec.Rules[0].Host = "10.1.1.1"
		bad.Spec.Rules[0].HTTP.Paths[0].PathType = nil
		bad.Annotations = map[string]string{"kubernetes.io/ingress.class": "other"}
		_, err = ings.Update(ctx, bad, metav1.UpdateOptions{})
		step("invalid ingress update", err)
		badNP, err := policies.Get(ctx, "with-egress", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		badNP.Spec.Egress[0].To[0].IPBlock.CIDR = ""
		badNP.Spec.Egress[0].Ports[0].EndPort = ptr.To[int32](1)
		_, err = policies.Update(ctx, badNP, metav1.UpdateOptions{})
		step("invalid netpol update", err)
		ing, err := ings.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ing.Spec.Rules[0].Host = "z.example.com"
		ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "10.0.0.9"}}
		got, err := ings.Update(ctx, ing, metav1.UpdateOptions{})
		if err == nil {
			seen["update ingress"] = describeNet(got.Generation, nil, got.Status, nil)
		} else {
			seen["update ingress"] = outcome(err)
		}
		ing, err = ings.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "192.168.0.10"}, {Hostname: "lb.example.com"}, {IP: "192.168.0.2"}}
		ing.Spec.Rules[0].Host = "ignored.example.com"
		got, err = ings.UpdateStatus(ctx, ing, metav1.UpdateOptions{})
		if err == nil {
			seen["update ingress status"] = describeNet(got.Generation, got.Spec.Rules[0].Host, got.Status, nil)
		} else {
			seen["update ingress status"] = outcome(err)
		}
		ing, err = ings.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ing.Status.LoadBalancer.Ingress = []networkingv1.IngressLoadBalancerIngress{{IP: "192.168.0.010"}, {Hostname: "1.2.3.4"}, {Hostname: "Bad_Host"}}
		_, err = ings.UpdateStatus(ctx, ing, metav1.UpdateOptions{})
		step("invalid ingress status", err)
		np, err := policies.Get(ctx, "ingress-only", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		gotNP, err := policies.Update(ctx, np, metav1.UpdateOptions{})
		if err == nil {
			seen["update netpol"] = describeNet(gotNP.Generation, gotNP.Spec.PolicyTypes, nil, nil)
		} else {
			seen["update netpol"] = outcome(err)
		}

		// The server-side tables kubectl prints.
		for _, res := range []struct {
			name       string
			namespaced bool
		}{{"ingresses", true}, {"ingressclasses", false}, {"networkpolicies", true}} {
			req := c.NetworkingV1().RESTClient().Get().Resource(res.name)
			if res.namespaced {
				req = req.Namespace(ns)
			}
			raw, err := req.SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var table metav1.Table
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(&table); err != nil {
				t.Fatal(err)
			}
			ageAt := -1
			for i, col := range table.ColumnDefinitions {
				seen[fmt.Sprintf("table %s column %d", res.name, i)] = fmt.Sprintf("%s type=%s format=%s priority=%d description=%q", col.Name, col.Type, col.Format, col.Priority, col.Description)
				if col.Name == "Age" {
					ageAt = i
				}
			}
			for _, row := range table.Rows {
				cells := slices.Clone(row.Cells)
				if ageAt >= 0 && ageAt < len(cells) {
					cells[ageAt] = "<age>"
				}
				seen[fmt.Sprintf("table %s row %v", res.name, cells[0])] = fmt.Sprintf("%v", cells)
			}
		}
		seen["kubectl get ing"] = withoutAgeColumn(kubectl(t, kubectlBin, cp.kubeconfig, "", "get", "ing", "-n", ns))
		assertTable(t, kubectl(t, kubectlBin, cp.kubeconfig, "", "get", "ing", "-n", ns), "NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE")
		seen["kubectl get ing,ingressclass,netpol"] = withoutAgeColumn(kubectl(t, kubectlBin, cp.kubeconfig, "", "get", "ing,ingressclass,netpol", "-n", ns))
		seen["kubectl get ingressclass with-params -o wide"] = withoutAgeColumn(kubectl(t, kubectlBin, cp.kubeconfig, "", "get", "ingressclass", "with-params", "-o", "wide"))
		seen["kubectl get netpol"] = withoutAgeColumn(kubectl(t, kubectlBin, cp.kubeconfig, "", "get", "netpol", "-n", ns))

		// The bootstrap roles grant ingresses and network policies as
		// upstream's (the aggregated roles' parts, since no controller
		// aggregates them on upstream's envtest).
		users, sar := bindAggregatedRoles(t, ctx, c, ns, "net")
		for _, role := range aggregatedRoles {
			user := users[role]
			for _, res := range []struct{ resource, sub string }{{"ingresses", ""}, {"ingresses", "status"}, {"networkpolicies", ""}, {"ingressclasses", ""}} {
				for _, verb := range []string{"get", "list", "create", "update", "delete"} {
					ok, err := sar(user, authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: networkingv1.GroupName, Resource: res.resource, Subresource: res.sub})
					seen[fmt.Sprintf("rbac %s %s %s/%s", role, verb, res.resource, res.sub)] = fmt.Sprint(ok, err)
				}
			}
		}

		expectSeen(t, seen, map[string]string{
			"kubectl 0: apply -f -":                                 "ingressclass.networking.k8s.io/chart-nginx created\ningress.networking.k8s.io/chart-web created\nnetworkpolicy.networking.k8s.io/chart-deny-all created\n",
			"rbac system:aggregate-to-edit create networkpolicies/": "true <nil>",
			"kubectl apply legacy ingress": "Warning: annotation \"kubernetes.io/ingress.class\" is deprecated, please use 'spec.ingressClassName' instead\n" +
				"ingress.networking.k8s.io/legacy created\n",
			"legacy ingress class":                                  "",
			"rbac system:aggregate-to-view list ingresses/status":   "true <nil>",
			"rbac system:aggregate-to-admin create ingressclasses/": "false <nil>",
		})
		return seen
	})
}
