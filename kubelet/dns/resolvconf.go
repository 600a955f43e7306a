package dns

import (
	"fmt"
	"strings"
)

// PodResolvConf returns the resolv.conf of a pod in namespace with
// dnsPolicy ClusterFirst, as upstream's kubelet writes it: the cluster DNS
// Service address as the nameserver, the namespace's, the services' and the
// cluster's domains to search (so `echo`, `echo.default` and
// `echo.default.svc.cluster.local` all resolve), then the node's own search
// domains, and ndots:5.
func PodResolvConf(namespace, clusterDomain string, nameservers, hostSearch []string) string {
	if clusterDomain == "" {
		clusterDomain = DefaultClusterDomain
	}
	clusterDomain = strings.TrimSuffix(clusterDomain, ".")
	search := []string{namespace + ".svc." + clusterDomain, "svc." + clusterDomain, clusterDomain}
	for _, s := range hostSearch {
		// Upstream keeps at most 32 search domains.
		if len(search) < 32 && s != "" && s != "." {
			search = append(search, s)
		}
	}
	var b strings.Builder
	for _, ns := range nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	b.WriteString("options ndots:5\n")
	return b.String()
}
