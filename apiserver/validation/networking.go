package validation

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// The rules below are upstream 1.37's for networking.k8s.io/v1
// (k8s.io/kubernetes pkg/apis/networking/validation), with the feature gates
// at their 1.37 defaults: StrictIPCIDRValidation on (IPs and CIDRs must be
// canonical, except values the old object already held) and
// RelaxedServiceNameValidation locked on (a backend's service name is a DNS
// label).

// annotationIngressClass is the class annotation that predates
// spec.ingressClassName; on create the two must agree.
const annotationIngressClass = "kubernetes.io/ingress.class"

const maxIngressClassControllerLen = 250

var (
	// pathTypes in the sorted order upstream lists them.
	pathTypes            = []string{string(networkingv1.PathTypeExact), string(networkingv1.PathTypeImplementationSpecific), string(networkingv1.PathTypePrefix)}
	invalidPathSequences = []string{"//", "/./", "/../", "%2f", "%2F"}
	invalidPathSuffixes  = []string{"/..", "/."}
	parameterScopes      = []string{networkingv1.IngressClassParametersReferenceScopeCluster, networkingv1.IngressClassParametersReferenceScopeNamespace}
	networkProtocols     = []string{string(corev1.ProtocolTCP), string(corev1.ProtocolUDP), string(corev1.ProtocolSCTP)}
	policyTypes          = []string{string(networkingv1.PolicyTypeIngress), string(networkingv1.PolicyTypeEgress)}
)

// NetworkPolicy validates a new NetworkPolicy's spec.
func NetworkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	return declarativeLast(networkPolicySpec(&np.Spec, metav1validation.LabelSelectorValidationOptions{}, nil, field.NewPath("spec")))
}

// NetworkPolicyUpdate validates a changed NetworkPolicy's spec. What the old
// policy already held stays allowed: an invalid pod selector's label values,
// and any CIDR it named, so a policy stored under looser rules can still be
// updated.
func NetworkPolicyUpdate(np, old *networkingv1.NetworkPolicy) field.ErrorList {
	opts := metav1validation.LabelSelectorValidationOptions{}
	if len(metav1validation.ValidateLabelSelector(&old.Spec.PodSelector, opts, nil)) > 0 {
		opts.AllowInvalidLabelValueInSelector = true
	}
	var oldCIDRs []string
	addCIDRs := func(peers []networkingv1.NetworkPolicyPeer) {
		for _, p := range peers {
			if p.IPBlock != nil {
				oldCIDRs = append(oldCIDRs, p.IPBlock.CIDR)
				oldCIDRs = append(oldCIDRs, p.IPBlock.Except...)
			}
		}
	}
	for _, r := range old.Spec.Ingress {
		addCIDRs(r.From)
	}
	for _, r := range old.Spec.Egress {
		addCIDRs(r.To)
	}
	return declarativeLast(networkPolicySpec(&np.Spec, opts, oldCIDRs, field.NewPath("spec")))
}

func networkPolicySpec(spec *networkingv1.NetworkPolicySpec, opts metav1validation.LabelSelectorValidationOptions, oldCIDRs []string, p *field.Path) field.ErrorList {
	errs := metav1validation.ValidateLabelSelector(&spec.PodSelector, opts, p.Child("podSelector"))
	for i, rule := range spec.Ingress {
		rp := p.Child("ingress").Index(i)
		for j := range rule.Ports {
			errs = append(errs, networkPolicyPort(&rule.Ports[j], rp.Child("ports").Index(j))...)
		}
		for j := range rule.From {
			errs = append(errs, networkPolicyPeer(&rule.From[j], opts, oldCIDRs, rp.Child("from").Index(j))...)
		}
	}
	for i, rule := range spec.Egress {
		rp := p.Child("egress").Index(i)
		for j := range rule.Ports {
			errs = append(errs, networkPolicyPort(&rule.Ports[j], rp.Child("ports").Index(j))...)
		}
		for j := range rule.To {
			errs = append(errs, networkPolicyPeer(&rule.To[j], opts, oldCIDRs, rp.Child("to").Index(j))...)
		}
	}
	if len(spec.PolicyTypes) > len(policyTypes) {
		return append(errs, field.Invalid(p.Child("policyTypes"), &spec.PolicyTypes, "may not specify more than two policyTypes"))
	}
	for i, t := range spec.PolicyTypes {
		if !slices.Contains(policyTypes, string(t)) {
			errs = append(errs, field.NotSupported(p.Child("policyTypes").Index(i), t, policyTypes))
		}
	}
	return errs
}

func networkPolicyPort(port *networkingv1.NetworkPolicyPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if port.Protocol != nil && !slices.Contains(networkProtocols, string(*port.Protocol)) {
		errs = append(errs, field.NotSupported(p.Child("protocol"), *port.Protocol, networkProtocols))
	}
	switch {
	case port.Port == nil:
		if port.EndPort != nil {
			errs = append(errs, field.Invalid(p.Child("endPort"), *port.EndPort, "may not be specified when `port` is not specified"))
		}
	case port.Port.Type == intstr.Int:
		for _, msg := range validation.IsValidPortNum(int(port.Port.IntVal)) {
			errs = append(errs, field.Invalid(p.Child("port"), port.Port.IntVal, msg))
		}
		if port.EndPort != nil {
			if *port.EndPort < port.Port.IntVal {
				errs = append(errs, field.Invalid(p.Child("endPort"), *port.EndPort, "must be greater than or equal to `port`"))
			}
			for _, msg := range validation.IsValidPortNum(int(*port.EndPort)) {
				errs = append(errs, field.Invalid(p.Child("endPort"), *port.EndPort, msg))
			}
		}
	default:
		if port.EndPort != nil {
			errs = append(errs, field.Invalid(p.Child("endPort"), *port.EndPort, "may not be specified when `port` is non-numeric"))
		}
		for _, msg := range validation.IsValidPortName(port.Port.StrVal) {
			errs = append(errs, field.Invalid(p.Child("port"), port.Port.StrVal, msg))
		}
	}
	return errs
}

func networkPolicyPeer(peer *networkingv1.NetworkPolicyPeer, opts metav1validation.LabelSelectorValidationOptions, oldCIDRs []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	if peer.PodSelector != nil {
		n++
		errs = append(errs, metav1validation.ValidateLabelSelector(peer.PodSelector, opts, p.Child("podSelector"))...)
	}
	if peer.NamespaceSelector != nil {
		n++
		errs = append(errs, metav1validation.ValidateLabelSelector(peer.NamespaceSelector, opts, p.Child("namespaceSelector"))...)
	}
	if peer.IPBlock != nil {
		n++
		errs = append(errs, ipBlock(peer.IPBlock, oldCIDRs, p.Child("ipBlock"))...)
	}
	switch {
	case n == 0:
		errs = append(errs, field.Required(p, "must specify a peer"))
	case n > 1 && peer.IPBlock != nil:
		errs = append(errs, field.Forbidden(p, "may not specify both ipBlock and another peer"))
	}
	return errs
}

func ipBlock(b *networkingv1.IPBlock, oldCIDRs []string, p *field.Path) field.ErrorList {
	if b.CIDR == "" {
		return field.ErrorList{field.Required(p.Child("cidr"), "").MarkCoveredByDeclarative()}
	}
	errs := validation.IsValidCIDRForLegacyField(p.Child("cidr"), b.CIDR, true, oldCIDRs)
	_, cidr, err := netutils.ParseCIDRSloppy(b.CIDR)
	if err != nil {
		return errs
	}
	cidrLen, _ := cidr.Mask.Size()
	for i, s := range b.Except {
		ep := p.Child("except").Index(i)
		errs = append(errs, validation.IsValidCIDRForLegacyField(ep, s, true, oldCIDRs)...)
		_, except, err := netutils.ParseCIDRSloppy(s)
		if err != nil {
			continue
		}
		if exceptLen, _ := except.Mask.Size(); !cidr.Contains(except.IP) || cidrLen >= exceptLen {
			errs = append(errs, field.Invalid(ep, s, "must be a strict subset of `cidr`"))
		}
	}
	return errs
}

// ingressOptions relax what an update may keep from the old object.
type ingressOptions struct {
	allowInvalidSecretName       bool
	allowInvalidWildcardHostRule bool
}

// IngressCreate validates a new Ingress: its spec, and that the deprecated
// class annotation agrees with spec.ingressClassName when both are set.
func IngressCreate(ing *networkingv1.Ingress) field.ErrorList {
	errs := ingressSpec(&ing.Spec, field.NewPath("spec"), ingressOptions{})
	if v, ok := ing.Annotations[annotationIngressClass]; ok && ing.Spec.IngressClassName != nil && v != *ing.Spec.IngressClassName {
		errs = append(errs, field.Invalid(field.NewPath("annotations").Child(annotationIngressClass), v, "must match `ingressClassName` when both are specified"))
	}
	return errs
}

// IngressUpdate validates a changed Ingress's spec; a TLS secret name or a
// wildcard host's rules that the old object already had wrong stay allowed.
func IngressUpdate(ing, old *networkingv1.Ingress) field.ErrorList {
	opts := ingressOptions{}
	for _, tls := range old.Spec.TLS {
		if len(tlsSecretName(tls.SecretName)) > 0 {
			opts.allowInvalidSecretName = true
		}
	}
	for _, r := range old.Spec.Rules {
		if strings.Contains(r.Host, "*") && len(ingressRuleValue(&r.IngressRuleValue, nil)) > 0 {
			opts.allowInvalidWildcardHostRule = true
		}
	}
	return ingressSpec(&ing.Spec, field.NewPath("spec"), opts)
}

// IngressStatusUpdate validates the load balancer addresses a controller
// writes to status.
func IngressStatusUpdate(ing, old *networkingv1.Ingress) field.ErrorList {
	var oldIPs []string
	for _, i := range old.Status.LoadBalancer.Ingress {
		if i.IP != "" {
			oldIPs = append(oldIPs, i.IP)
		}
	}
	var errs field.ErrorList
	p := field.NewPath("status", "loadBalancer", "ingress")
	for i, lb := range ing.Status.LoadBalancer.Ingress {
		ip := p.Index(i)
		if lb.IP != "" {
			errs = append(errs, validation.IsValidIPForLegacyField(ip.Child("ip"), lb.IP, true, oldIPs)...)
		}
		if lb.Hostname != "" {
			for _, msg := range validation.IsDNS1123Subdomain(lb.Hostname) {
				errs = append(errs, field.Invalid(ip.Child("hostname"), lb.Hostname, msg))
			}
			if netutils.ParseIPSloppy(lb.Hostname) != nil {
				errs = append(errs, field.Invalid(ip.Child("hostname"), lb.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return errs
}

func ingressSpec(spec *networkingv1.IngressSpec, p *field.Path, opts ingressOptions) field.ErrorList {
	var errs field.ErrorList
	if len(spec.Rules) == 0 && spec.DefaultBackend == nil {
		errs = append(errs, field.Invalid(p, spec.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if spec.DefaultBackend != nil {
		errs = append(errs, ingressBackend(spec.DefaultBackend, p.Child("defaultBackend"))...)
	}
	for i := range spec.Rules {
		errs = append(errs, ingressRule(&spec.Rules[i], p.Child("rules").Index(i), opts)...)
	}
	for i, tls := range spec.TLS {
		tp := p.Child("tls").Index(i)
		for j, host := range tls.Hosts {
			check := validation.IsDNS1123Subdomain
			if strings.Contains(host, "*") {
				check = validation.IsWildcardDNS1123Subdomain
			}
			for _, msg := range check(host) {
				errs = append(errs, field.Invalid(tp.Child("hosts").Index(j), host, msg))
			}
		}
		if !opts.allowInvalidSecretName {
			for _, msg := range tlsSecretName(tls.SecretName) {
				errs = append(errs, field.Invalid(tp.Child("secretName"), tls.SecretName, msg))
			}
		}
	}
	if spec.IngressClassName != nil {
		for _, msg := range apivalidation.NameIsDNSSubdomain(*spec.IngressClassName, false) {
			errs = append(errs, field.Invalid(p.Child("ingressClassName"), *spec.IngressClassName, msg))
		}
	}
	return errs
}

func tlsSecretName(name string) []string {
	if name == "" {
		return nil
	}
	return apivalidation.NameIsDNSSubdomain(name, false)
}

func ingressRule(r *networkingv1.IngressRule, p *field.Path, opts ingressOptions) field.ErrorList {
	var errs field.ErrorList
	wildcard := false
	if r.Host != "" {
		if netutils.ParseIPSloppy(r.Host) != nil {
			errs = append(errs, field.Invalid(p.Child("host"), r.Host, "must be a DNS name, not an IP address"))
		}
		check := validation.IsDNS1123Subdomain
		if strings.Contains(r.Host, "*") {
			check, wildcard = validation.IsWildcardDNS1123Subdomain, true
		}
		for _, msg := range check(r.Host) {
			errs = append(errs, field.Invalid(p.Child("host"), r.Host, msg))
		}
	}
	if !wildcard || !opts.allowInvalidWildcardHostRule {
		errs = append(errs, ingressRuleValue(&r.IngressRuleValue, p)...)
	}
	return errs
}

func ingressRuleValue(v *networkingv1.IngressRuleValue, p *field.Path) field.ErrorList {
	if v.HTTP == nil {
		return nil
	}
	var errs field.ErrorList
	hp := p.Child("http")
	if len(v.HTTP.Paths) == 0 {
		errs = append(errs, field.Required(hp.Child("paths"), ""))
	}
	for i := range v.HTTP.Paths {
		errs = append(errs, httpIngressPath(&v.HTTP.Paths[i], hp.Child("paths").Index(i))...)
	}
	return errs
}

func httpIngressPath(path *networkingv1.HTTPIngressPath, p *field.Path) field.ErrorList {
	if path.PathType == nil {
		return field.ErrorList{field.Required(p.Child("pathType"), "pathType must be specified")}
	}
	var errs field.ErrorList
	switch *path.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(path.Path, "/") {
			errs = append(errs, field.Invalid(p.Child("path"), path.Path, "must be an absolute path"))
		}
		for _, seq := range invalidPathSequences {
			if strings.Contains(path.Path, seq) {
				errs = append(errs, field.Invalid(p.Child("path"), path.Path, fmt.Sprintf("must not contain '%s'", seq)))
			}
		}
		for _, suffix := range invalidPathSuffixes {
			if strings.HasSuffix(path.Path, suffix) {
				errs = append(errs, field.Invalid(p.Child("path"), path.Path, fmt.Sprintf("cannot end with '%s'", suffix)))
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if path.Path != "" && !strings.HasPrefix(path.Path, "/") {
			errs = append(errs, field.Invalid(p.Child("path"), path.Path, "must be an absolute path"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("pathType"), *path.PathType, pathTypes))
	}
	return append(errs, ingressBackend(&path.Backend, p.Child("backend"))...)
}

func ingressBackend(b *networkingv1.IngressBackend, p *field.Path) field.ErrorList {
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(p, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		return typedReference(b.Resource.APIGroup, b.Resource.Kind, b.Resource.Name, p.Child("resource"), false)
	case b.Service == nil:
		return field.ErrorList{field.Invalid(p, "", "resource or service backend is required")}
	}
	var errs field.ErrorList
	svc := b.Service
	if svc.Name == "" {
		errs = append(errs, field.Required(p.Child("service", "name"), ""))
	} else {
		for _, msg := range apivalidation.NameIsDNSLabel(svc.Name, false) {
			errs = append(errs, field.Invalid(p.Child("service", "name"), svc.Name, msg))
		}
	}
	hasName, hasNumber := svc.Port.Name != "", svc.Port.Number != 0
	switch {
	case hasName && hasNumber:
		errs = append(errs, field.Invalid(p, "", "cannot set both port name & port number"))
	case hasName:
		for _, msg := range validation.IsValidPortName(svc.Port.Name) {
			errs = append(errs, field.Invalid(p.Child("service", "port", "name"), svc.Port.Name, msg))
		}
	case hasNumber:
		for _, msg := range validation.IsValidPortNum(int(svc.Port.Number)) {
			errs = append(errs, field.Invalid(p.Child("service", "port", "number"), svc.Port.Number, msg))
		}
	default:
		errs = append(errs, field.Required(p, "port name or number is required"))
	}
	return errs
}

// typedReference checks the apiGroup, kind and name of a reference to
// another object (a resource backend, an IngressClass's parameters).
func typedReference(apiGroup *string, kind, name string, p *field.Path, declarative bool) field.ErrorList {
	required := func(p *field.Path) *field.Error {
		if declarative {
			return field.Required(p, "").MarkCoveredByDeclarative()
		}
		return field.Required(p, "")
	}
	var errs field.ErrorList
	if apiGroup != nil {
		for _, msg := range validation.IsDNS1123Subdomain(*apiGroup) {
			errs = append(errs, field.Invalid(p.Child("apiGroup"), *apiGroup, msg))
		}
	}
	for _, f := range []struct{ name, value string }{{"kind", kind}, {"name", name}} {
		if f.value == "" {
			errs = append(errs, required(p.Child(f.name)))
			continue
		}
		for _, msg := range content.IsPathSegmentName(f.value) {
			errs = append(errs, field.Invalid(p.Child(f.name), f.value, msg))
		}
	}
	return errs
}

// IngressClass validates an IngressClass's spec: a domain-prefixed
// controller name and a complete parameters reference.
func IngressClass(ic *networkingv1.IngressClass) field.ErrorList {
	return declarativeLast(ingressClassSpec(ic))
}

func ingressClassSpec(ic *networkingv1.IngressClass) field.ErrorList {
	p := field.NewPath("spec")
	var errs field.ErrorList
	if len(ic.Spec.Controller) > maxIngressClassControllerLen {
		errs = append(errs, field.TooLong(p.Child("controller"), "", maxIngressClassControllerLen))
	}
	errs = append(errs, validation.IsDomainPrefixedPath(p.Child("controller"), ic.Spec.Controller)...)
	if params := ic.Spec.Parameters; params != nil {
		pp := p.Child("parameters")
		errs = append(errs, typedReference(params.APIGroup, params.Kind, params.Name, pp, true)...)
		switch {
		case params.Scope == nil:
			errs = append(errs, field.Required(pp.Child("scope"), ""))
		case !slices.Contains(parameterScopes, *params.Scope):
			errs = append(errs, field.NotSupported(pp.Child("scope"), *params.Scope, parameterScopes))
		case *params.Scope == networkingv1.IngressClassParametersReferenceScopeNamespace && params.Namespace == nil:
			errs = append(errs, field.Required(pp.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
		case *params.Scope == networkingv1.IngressClassParametersReferenceScopeNamespace:
			for _, msg := range apivalidation.ValidateNamespaceName(*params.Namespace, false) {
				errs = append(errs, field.Invalid(pp.Child("namespace"), *params.Namespace, msg))
			}
		case *params.Scope == networkingv1.IngressClassParametersReferenceScopeCluster && params.Namespace != nil:
			errs = append(errs, field.Forbidden(pp.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
		}
	}
	return errs
}

// IngressClassUpdate: the controller is immutable, then the class is
// validated as a new one.
func IngressClassUpdate(ic, old *networkingv1.IngressClass) field.ErrorList {
	errs := apivalidation.ValidateImmutableField(ic.Spec.Controller, old.Spec.Controller, field.NewPath("spec", "controller"))
	return declarativeLast(append(errs, ingressClassSpec(ic)...))
}

// declarativeLast moves the errors upstream's declarative validation reports
// (its generated rules, marked here as upstream marks the handwritten rules
// they replace) after the others, where kube-apiserver lists them.
func declarativeLast(errs field.ErrorList) field.ErrorList {
	var handwritten, declarative field.ErrorList
	for _, e := range errs {
		if e.CoveredByDeclarative {
			declarative = append(declarative, e)
		} else {
			handwritten = append(handwritten, e)
		}
	}
	return append(handwritten, declarative...)
}

// IngressWarnings: a new Ingress that names its class only by the deprecated
// annotation is told to use spec.ingressClassName, as upstream tells it.
func IngressWarnings(ing *networkingv1.Ingress, update bool) []string {
	if _, ok := ing.Annotations[annotationIngressClass]; ok && !update && ing.Spec.IngressClassName == nil {
		return []string{fmt.Sprintf("annotation %q is deprecated, please use 'spec.ingressClassName' instead", annotationIngressClass)}
	}
	return nil
}

// NetworkPolicyWarnings warns of ipBlock CIDRs that are kept though not
// canonical (an update may keep what the old policy held).
func NetworkPolicyWarnings(np *networkingv1.NetworkPolicy, _ bool) []string {
	var warnings []string
	check := func(peers []networkingv1.NetworkPolicyPeer, p *field.Path) {
		for j, peer := range peers {
			if peer.IPBlock == nil {
				continue
			}
			bp := p.Index(j).Child("ipBlock")
			warnings = append(warnings, validation.GetWarningsForCIDR(bp.Child("cidr"), peer.IPBlock.CIDR)...)
			for k, except := range peer.IPBlock.Except {
				warnings = append(warnings, validation.GetWarningsForCIDR(bp.Child("except").Index(k), except)...)
			}
		}
	}
	for i, r := range np.Spec.Ingress {
		check(r.From, field.NewPath("spec", "ingress").Index(i).Child("from"))
	}
	for i, r := range np.Spec.Egress {
		check(r.To, field.NewPath("spec", "egress").Index(i).Child("to"))
	}
	return warnings
}
