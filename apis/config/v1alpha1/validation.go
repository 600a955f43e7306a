package v1alpha1

import (
	"net"
	"net/netip"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validate checks a defaulted Cluster and names each bad field by its path
// in the file.
func Validate(c *Cluster) field.ErrorList {
	var errs field.ErrorList
	if p := c.APIServer.SecurePort; p < 1 || p > 65535 {
		errs = append(errs, field.Invalid(field.NewPath("apiServer", "securePort"), p, "must be between 1 and 65535"))
	}
	switch c.Node.Runtime {
	case "containerd", "simulated":
	default:
		errs = append(errs, field.NotSupported(field.NewPath("node", "runtime"), c.Node.Runtime, []string{"containerd", "simulated"}))
	}
	for _, f := range []struct {
		path *field.Path
		cidr string
	}{{field.NewPath("networking", "podCIDR"), c.Networking.PodCIDR}, {field.NewPath("networking", "serviceCIDR"), c.Networking.ServiceCIDR}} {
		if p, err := netip.ParsePrefix(f.cidr); err != nil || !p.Addr().Is4() {
			errs = append(errs, field.Invalid(f.path, f.cidr, "must be an IPv4 CIDR, e.g. 10.244.0.0/24"))
		}
	}
	for i, up := range c.Networking.DNSUpstreams {
		if _, _, err := net.SplitHostPort(up); err != nil {
			errs = append(errs, field.Invalid(field.NewPath("networking", "dnsUpstreams").Index(i), up, "must be host:port"))
		}
	}
	e := field.NewPath("apiServer", "etcd")
	if len(c.APIServer.Etcd.Servers) == 0 && (c.APIServer.Etcd.CAFile != "" || c.APIServer.Etcd.CertFile != "" || c.APIServer.Etcd.KeyFile != "") {
		errs = append(errs, field.Required(e.Child("servers"), "TLS files are given without servers"))
	}
	if (c.APIServer.Etcd.CertFile == "") != (c.APIServer.Etcd.KeyFile == "") {
		errs = append(errs, field.Required(e.Child("keyFile"), "certFile and keyFile go together"))
	}
	return errs
}
