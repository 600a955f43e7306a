package apiserver

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kubeseed/kubeseed/apiserver/allocator"
)

// Config configures the API server.
type Config struct {
	// DataDir holds pki/, etcd/ (embedded etcd's data) and admin.kubeconfig.
	DataDir string
	// SecurePort is the HTTPS port (default 6443).
	SecurePort int
	// BindAddress is the address to listen on (default 127.0.0.1).
	BindAddress string
	// AdvertiseAddress is the address published in the kubernetes service's
	// endpoints (default: BindAddress when it is a specific address, else the
	// first non-loopback IPv4 address of the host).
	AdvertiseAddress string
	// EtcdServers are external etcd client URLs; empty runs etcd embedded.
	EtcdServers []string
	// EtcdCAFile, EtcdCertFile and EtcdKeyFile secure the external etcd connection.
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	// EtcdUnsafeNoFsync runs the embedded etcd without fsync (see
	// etcd.Config.UnsafeNoFsync): for test environments only.
	EtcdUnsafeNoFsync bool
	// ServiceClusterIPRange is the CIDR cluster IPs come from (default 10.96.0.0/12).
	ServiceClusterIPRange string
	// ServiceNodePortRange is the inclusive node port range (default 30000-32767).
	ServiceNodePortRange string
	// DisableAdmissionPlugins turns admission plugins off by name, as
	// kube-apiserver's --disable-admission-plugins. "ServiceAccount" and
	// "Priority" may be named. Without ServiceAccount pods are admitted as
	// envtest's kube-apiserver (which runs with
	// --disable-admission-plugins=ServiceAccount) admits them, with no
	// service account filled in, no check that the one named exists and no
	// kube-api-access volume. Without Priority pods keep the priority and
	// preemptionPolicy they were sent (none, usually), whatever class they
	// name, and several PriorityClasses may be the global default.
	DisableAdmissionPlugins []string
}

// Defaults for Config fields left empty.
const (
	DefaultSecurePort            = 6443
	DefaultBindAddress           = "127.0.0.1"
	DefaultServiceClusterIPRange = "10.96.0.0/12"
	DefaultServiceNodePortRange  = "30000-32767"
)

// complete fills in defaults and checks the configuration.
func (c Config) complete() (Config, error) {
	if c.DataDir == "" {
		return c, errors.New("apiserver: DataDir is required")
	}
	dir, err := filepath.Abs(c.DataDir)
	if err != nil {
		return c, fmt.Errorf("apiserver: data dir: %w", err)
	}
	c.DataDir = dir
	if c.SecurePort == 0 {
		c.SecurePort = DefaultSecurePort
	}
	if c.SecurePort < 0 || c.SecurePort > 65535 {
		return c, fmt.Errorf("apiserver: secure port %d out of range", c.SecurePort)
	}
	if c.BindAddress == "" {
		c.BindAddress = DefaultBindAddress
	}
	if net.ParseIP(c.BindAddress) == nil {
		return c, fmt.Errorf("apiserver: bind address %q is not an IP address", c.BindAddress)
	}
	if c.ServiceClusterIPRange == "" {
		c.ServiceClusterIPRange = DefaultServiceClusterIPRange
	}
	if _, err := allocator.ParseIPRange(c.ServiceClusterIPRange); err != nil {
		return c, fmt.Errorf("apiserver: %w", err)
	}
	if c.ServiceNodePortRange == "" {
		c.ServiceNodePortRange = DefaultServiceNodePortRange
	}
	if _, err := allocator.ParsePortRange(c.ServiceNodePortRange); err != nil {
		return c, fmt.Errorf("apiserver: %w", err)
	}
	for _, name := range c.DisableAdmissionPlugins {
		if !slices.Contains(disableableAdmissionPlugins, name) {
			return c, fmt.Errorf("apiserver: disable-admission-plugins plugin %q is unknown or always on (can be disabled: %s)", name, strings.Join(disableableAdmissionPlugins, ", "))
		}
	}
	if c.AdvertiseAddress == "" {
		c.AdvertiseAddress = advertiseAddress(net.ParseIP(c.BindAddress))
	}
	if net.ParseIP(c.AdvertiseAddress) == nil {
		return c, fmt.Errorf("apiserver: advertise address %q is not an IP address", c.AdvertiseAddress)
	}
	return c, nil
}

// advertiseAddress picks the address the kubernetes service points at.
func advertiseAddress(bind net.IP) string {
	if !bind.IsUnspecified() && !bind.IsLoopback() {
		return bind.String()
	}
	if bind.IsUnspecified() {
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
					return n.IP.String()
				}
			}
		}
	}
	return "127.0.0.1"
}
