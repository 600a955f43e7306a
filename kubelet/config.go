package kubelet

import (
	"errors"
	"fmt"
	"net"
	"time"

	"k8s.io/client-go/rest"
)

// Runtimes the agent can run pods on.
const (
	RuntimeContainerd = "containerd"
	RuntimeSimulated  = "simulated"
)

// Config configures a node agent.
type Config struct {
	// RestConfig reaches the API server.
	RestConfig *rest.Config
	// NodeName is the Node to register and whose pods to run.
	NodeName string
	// Runtime is "containerd" (default) or "simulated".
	Runtime string
	// ContainerdAddress is a running containerd's socket; empty starts one
	// under RootDir (and stops it when Run returns).
	ContainerdAddress string
	// RootDir holds the agent's state (default /var/lib/kubeseed/kubelet).
	RootDir string
	// PodCIDR is the node's pod range (default 10.244.0.0/24).
	PodCIDR string
	// ClusterDNS is the cluster DNS service address (default 10.96.0.10).
	ClusterDNS string
	// ClusterDomain is the cluster's DNS domain (default cluster.local).
	ClusterDomain string
	// NodeIP is the node's InternalIP (default: the first global IPv4
	// address of an interface that is up).
	NodeIP string
	// BridgeName is the pod bridge (default kubeseed0).
	BridgeName string
	// CgroupParent holds the pods' cgroups (default /kubeseed).
	CgroupParent string
	// BusyboxBinary is the static busybox the built-in busybox image is made
	// from (default /bin/busybox; "-" turns the image off).
	BusyboxBinary string
	// ServerAddress is where the HTTPS endpoint for logs listens (default
	// ":10250").
	ServerAddress string
	// ClientCA is the PEM bundle signing the API server's kubelet client
	// certificate; without it the HTTPS endpoint is not started.
	ClientCA []byte
	// SimulatedStartDelay is how long a simulated container takes to run
	// (default 1 s).
	SimulatedStartDelay time.Duration
	// Resync is how often each pod is synced without a trigger (default 2 s).
	Resync time.Duration
	// HeartbeatInterval is how often the lease is renewed (default 10 s).
	HeartbeatInterval time.Duration
}

// Default values.
const (
	DefaultRootDir       = "/var/lib/kubeseed/kubelet"
	DefaultPodCIDR       = "10.244.0.0/24"
	DefaultClusterDNS    = "10.96.0.10"
	DefaultClusterDomain = "cluster.local"
)

func (c *Config) complete() error {
	if c.RestConfig == nil {
		return errors.New("kubelet: RestConfig is required")
	}
	if c.NodeName == "" {
		return errors.New("kubelet: NodeName is required")
	}
	if c.Runtime == "" {
		c.Runtime = RuntimeContainerd
	}
	if c.Runtime != RuntimeContainerd && c.Runtime != RuntimeSimulated {
		return fmt.Errorf("kubelet: unknown runtime %q (want %s or %s)", c.Runtime, RuntimeContainerd, RuntimeSimulated)
	}
	if c.RootDir == "" {
		c.RootDir = DefaultRootDir
	}
	if c.PodCIDR == "" {
		c.PodCIDR = DefaultPodCIDR
	}
	if _, _, err := net.ParseCIDR(c.PodCIDR); err != nil {
		return fmt.Errorf("kubelet: pod CIDR: %w", err)
	}
	if c.ClusterDNS == "" {
		c.ClusterDNS = DefaultClusterDNS
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = DefaultClusterDomain
	}
	if c.BridgeName == "" {
		c.BridgeName = "kubeseed0"
	}
	if c.ServerAddress == "" {
		c.ServerAddress = ":10250"
	}
	if c.SimulatedStartDelay == 0 {
		c.SimulatedStartDelay = time.Second
	}
	return nil
}
