package kubelet

import (
	"errors"
	"fmt"
	"net"
	"time"

	"k8s.io/client-go/rest"

	"github.com/kubeseed/kubeseed/kubelet/registry"
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
	// Resync is how often each pod is synced without a trigger (default
	// 2 s; with the simulated runtime 1 min, upstream kubelet's
	// --sync-frequency: its containers report every change themselves and
	// back-offs wake their pods, so a resync finds nothing to do, and with
	// thousands of simulated pods in one process a 2 s resync of each took
	// a third of the CPU; kubeseed kubelet --sync-frequency).
	Resync time.Duration
	// HeartbeatInterval is how often the lease is renewed (default 10 s).
	HeartbeatInterval time.Duration
	// RegistryMirrorAddress is where the node's read-only registry mirror
	// listens, a loopback host:port (default 127.0.0.1:0: a free port).
	RegistryMirrorAddress string
	// MirroredRegistries are the registries whose pulls try the mirror
	// first (default docker.io and registry.k8s.io).
	MirroredRegistries []string
	// RegistryFallback lets pulls the mirror cannot answer go on to the
	// registries themselves. Off (the zero value, which tests rely on),
	// pulls reach loopback registries only and nothing leaves the machine;
	// `kubeseed kubelet` and `kubeseed up` turn it on unless
	// --registry-fallback=false.
	RegistryFallback bool
}

// Default values.
const (
	DefaultRootDir       = "/var/lib/kubeseed/kubelet"
	DefaultPodCIDR       = "10.244.0.0/24"
	DefaultClusterDNS    = "10.96.0.10"
	DefaultClusterDomain = "cluster.local"
	// DefaultSimulatedResync is the simulated runtime's pod resync period.
	DefaultSimulatedResync = time.Minute
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
	if c.RegistryMirrorAddress == "" {
		c.RegistryMirrorAddress = "127.0.0.1:0"
	}
	if c.MirroredRegistries == nil {
		c.MirroredRegistries = registry.DefaultMirrored
	}
	if c.SimulatedStartDelay == 0 {
		c.SimulatedStartDelay = time.Second
	}
	if c.Resync == 0 && c.Runtime == RuntimeSimulated {
		c.Resync = DefaultSimulatedResync
	}
	return nil
}
