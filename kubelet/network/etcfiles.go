package network

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// DNSConfig is what the node knows about cluster DNS.
type DNSConfig struct {
	// ClusterDNS is the address of the cluster's DNS service.
	ClusterDNS string
	// ClusterDomain is the cluster's DNS domain, e.g. cluster.local.
	ClusterDomain string
	// HostResolvConf is the node's own resolv.conf content, used by pods with
	// dnsPolicy Default.
	HostResolvConf string
}

// Hostname returns the pod's hostname: spec.hostname, else the pod name, cut
// to 63 characters as upstream does.
func Hostname(pod *corev1.Pod) string {
	h := pod.Spec.Hostname
	if h == "" {
		h = pod.Name
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// HostsFile renders the pod's /etc/hosts, as kubelet writes it.
func HostsFile(pod *corev1.Pod, podIP, clusterDomain string) string {
	var b strings.Builder
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	if podIP != "" {
		h := Hostname(pod)
		if pod.Spec.Subdomain != "" {
			fmt.Fprintf(&b, "%s\t%s.%s.%s.svc.%s\t%s\n", podIP, h, pod.Spec.Subdomain, pod.Namespace, clusterDomain, h)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", podIP, h)
		}
	}
	if len(pod.Spec.HostAliases) > 0 {
		b.WriteString("\n# Entries added by HostAliases.\n")
		for _, a := range pod.Spec.HostAliases {
			fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
		}
	}
	return b.String()
}

// ResolvConf renders the pod's /etc/resolv.conf for its dnsPolicy:
// ClusterFirst (the default) points at cluster DNS with the namespace's
// search path and ndots:5; Default copies the node's file; None uses only
// spec.dnsConfig, which the other policies also merge in.
func ResolvConf(pod *corev1.Pod, dns DNSConfig) string {
	var servers, searches []string
	var options []string
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = corev1.DNSClusterFirst
	}
	if pod.Spec.HostNetwork && policy == corev1.DNSClusterFirst {
		policy = corev1.DNSDefault
	}
	switch policy {
	case corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet:
		if dns.ClusterDNS != "" {
			servers = []string{dns.ClusterDNS}
			d := dns.ClusterDomain
			searches = []string{pod.Namespace + ".svc." + d, "svc." + d, d}
			options = []string{"ndots:5"}
		} else {
			servers, searches, options = parseResolvConf(dns.HostResolvConf)
		}
	case corev1.DNSDefault:
		servers, searches, options = parseResolvConf(dns.HostResolvConf)
	}
	if c := pod.Spec.DNSConfig; c != nil {
		servers = appendNew(servers, c.Nameservers...)
		searches = appendNew(searches, c.Searches...)
		for _, o := range c.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			options = mergeOption(options, opt)
		}
	}
	var b strings.Builder
	if len(searches) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(searches, " "))
	}
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.String()
}

func parseResolvConf(content string) (servers, searches, options []string) {
	for _, line := range strings.Split(content, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "nameserver":
			servers = append(servers, f[1])
		case "search":
			searches = f[1:]
		case "options":
			options = append(options, f[1:]...)
		}
	}
	return servers, searches, options
}

func appendNew(list []string, items ...string) []string {
	for _, it := range items {
		dup := false
		for _, l := range list {
			if l == it {
				dup = true
			}
		}
		if !dup {
			list = append(list, it)
		}
	}
	return list
}

// mergeOption replaces an option of the same name (ndots:5 by ndots:2).
func mergeOption(options []string, opt string) []string {
	name := strings.SplitN(opt, ":", 2)[0]
	for i, o := range options {
		if strings.SplitN(o, ":", 2)[0] == name {
			options[i] = opt
			return options
		}
	}
	return append(options, opt)
}
