package v1alpha1

import "k8s.io/utils/ptr"

// Defaults of Cluster's fields.
const (
	DefaultDataDir     = "/var/lib/kubeseed"
	DefaultSecurePort  = 6443
	DefaultRuntime     = "containerd"
	DefaultPodCIDR     = "10.244.0.0/24"
	DefaultServiceCIDR = "10.96.0.0/12"
)

// SetDefaults fills in the fields left empty (the node name stays empty:
// its default, the host name, belongs to the machine, not the file).
func SetDefaults(c *Cluster) {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.APIServer.SecurePort == 0 {
		c.APIServer.SecurePort = DefaultSecurePort
	}
	if c.Node.Runtime == "" {
		c.Node.Runtime = DefaultRuntime
	}
	if c.Node.RegistryFallback == nil {
		c.Node.RegistryFallback = ptr.To(true)
	}
	if c.Networking.PodCIDR == "" {
		c.Networking.PodCIDR = DefaultPodCIDR
	}
	if c.Networking.ServiceCIDR == "" {
		c.Networking.ServiceCIDR = DefaultServiceCIDR
	}
	if c.WriteKubeconfig == nil {
		c.WriteKubeconfig = ptr.To(true)
	}
}
