// Package cluster runs a whole single-node cluster in one process, as
// `kubeseed up` does: the API server with embedded (or external) etcd, the
// service proxy and node-local DNS, the node agent and the controllers.
//
// The order is what keeps the node safe and the start quick: the pod bridge
// with the node's address on it, then the API server (everything else talks
// to it; it listens on loopback, and a relay at the node's bridge address,
// where the kubernetes Service points, lets pods in), then the proxy, whose
// first act is the blackhole route for the service range, so no packet for a
// service address can leave the node before a pod runs; then DNS, the node
// agent and the controllers together.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeseed/kubeseed/apiserver"
	"github.com/kubeseed/kubeseed/cluster/relay"
	"github.com/kubeseed/kubeseed/controllers/manager"
	"github.com/kubeseed/kubeseed/kubeconfig"
	"github.com/kubeseed/kubeseed/kubelet"
	"github.com/kubeseed/kubeseed/kubelet/dns"
	"github.com/kubeseed/kubeseed/kubelet/network"
	"github.com/kubeseed/kubeseed/kubelet/proxy"
)

// Config configures a whole cluster.
type Config struct {
	// DataDir keeps the cluster's state across restarts: etcd/, pki/,
	// admin.kubeconfig and kubelet/.
	DataDir string
	// SecurePort is the API server's HTTPS port.
	SecurePort int
	// EtcdServers are external etcd URLs; empty runs etcd embedded.
	EtcdServers []string
	// EtcdCAFile, EtcdCertFile and EtcdKeyFile secure the external etcd.
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	// NodeName names the one node.
	NodeName string
	// Runtime is kubelet.RuntimeContainerd or kubelet.RuntimeSimulated; the
	// simulated runtime runs no containers, so no proxy and no DNS either.
	Runtime string
	// PodCIDR is the node's pod range; its first address is the bridge's,
	// where the node-local DNS listens.
	PodCIDR string
	// ServiceCIDR is the service range (cluster IPs, the blackhole route).
	ServiceCIDR string
	// DNSUpstreams are where names outside the cluster domain go; empty
	// forwards nowhere (see dns.NoUpstream).
	DNSUpstreams []string
	// ImagesDirs hold image tarballs the node imports at start.
	ImagesDirs []string
	// RegistryFallback lets the node pull what its registry mirror lacks
	// from the registries themselves (off: nothing leaves the machine).
	RegistryFallback bool
	// KubeletAddress is the node agent's HTTPS endpoint (logs, exec).
	KubeletAddress string
	// BPFPinPath is where the proxy pins its maps and links.
	BPFPinPath string
	// BridgeName and CgroupParent place the node's pods.
	BridgeName, CgroupParent string
	// WriteKubeconfig, when set, is the kubeconfig the admin context is
	// merged into as context "kubeseed".
	WriteKubeconfig string
}

// Defaults of Config.
const (
	DefaultDataDir     = "/var/lib/kubeseed"
	DefaultPodCIDR     = kubelet.DefaultPodCIDR
	DefaultServiceCIDR = apiserver.DefaultServiceClusterIPRange
	// ContextName is the kubeconfig context `up` writes.
	ContextName = "kubeseed"
	// readyTimeout bounds each wait of the start; a component that takes
	// longer has failed.
	readyTimeout = 2 * time.Minute
)

// Run starts the cluster, reports progress lines to out, and runs until ctx
// ends or a component fails. It returns the first component's error.
func Run(parent context.Context, cfg Config, out io.Writer) error {
	start := time.Now()
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir
	}
	if cfg.PodCIDR == "" {
		cfg.PodCIDR = DefaultPodCIDR
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = DefaultServiceCIDR
	}
	if cfg.Runtime == "" {
		cfg.Runtime = kubelet.RuntimeContainerd
	}
	podPrefix, err := netip.ParsePrefix(cfg.PodCIDR)
	if err != nil || !podPrefix.Addr().Is4() {
		return fmt.Errorf("pod CIDR %q is not an IPv4 prefix", cfg.PodCIDR)
	}
	dnsIP, err := clusterDNSAddress(cfg.ServiceCIDR)
	if err != nil {
		return err
	}
	withContainers := cfg.Runtime == kubelet.RuntimeContainerd
	if withContainers {
		if err := checkRoot(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	progress := func(format string, args ...any) {
		fmt.Fprintf(out, "%6.1fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}

	g, ctx := errgroup.WithContext(parent)
	// started runs a component; its end (even without error) stops the rest,
	// since a cluster without one of its parts is not the cluster asked for.
	started := func(name string, run func(context.Context) error) {
		g.Go(func() error {
			err := run(ctx)
			if err == nil && ctx.Err() == nil {
				err = fmt.Errorf("%s stopped", name)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return nil
		})
	}
	// The node's address on the pod bridge: where pods reach the node.
	bridgeIP := podPrefix.Masked().Addr().Next()
	if withContainers {
		// The bridge and its address exist before any Service points at
		// them (the kubernetes Service's endpoint, the node-local DNS), so
		// the node's own connections to those stay on the node.
		if err := saveForwarding(cfg.DataDir); err != nil {
			return err
		}
		if err := network.EnsureBridge(cfg.BridgeName, cfg.PodCIDR); err != nil {
			return err
		}
	}
	err = func() error {
		apiCfg := apiserver.Config{DataDir: cfg.DataDir, SecurePort: cfg.SecurePort,
			EtcdServers: cfg.EtcdServers, EtcdCAFile: cfg.EtcdCAFile, EtcdCertFile: cfg.EtcdCertFile, EtcdKeyFile: cfg.EtcdKeyFile,
			ServiceClusterIPRange: cfg.ServiceCIDR}
		if withContainers {
			// Pods reach the API through the kubernetes Service, and
			// loopback in a pod is the pod's own: its endpoint is the
			// bridge address, which the relay below serves. The address
			// also lands in the serving certificate.
			apiCfg.AdvertiseAddress = bridgeIP.String()
		}
		api, err := apiserver.New(apiCfg)
		if err != nil {
			return err
		}
		started("API server", api.Run)
		if withContainers {
			// The API server stays on loopback: off the machine nothing new
			// listens, and only pods (and the node, whose address on the
			// bridge is in the pod range) get through.
			r, err := relay.New(relay.Config{Listen: netip.AddrPortFrom(bridgeIP, uint16(port(cfg.SecurePort))),
				Target: net.JoinHostPort(apiserver.DefaultBindAddress, strconv.Itoa(port(cfg.SecurePort))), Sources: []netip.Prefix{podPrefix.Masked()}})
			if err != nil {
				return err
			}
			started("API relay for pods", r.Run)
		}
		if err := waitReady(ctx, api.Ready()); err != nil {
			return fmt.Errorf("waiting for the API server: %w", err)
		}
		storage := "embedded etcd"
		if len(cfg.EtcdServers) > 0 {
			storage = fmt.Sprintf("etcd at %v", cfg.EtcdServers)
		}
		progress("API server ready on https://127.0.0.1:%d (%s)", port(cfg.SecurePort), storage)
		rc, err := clientcmd.BuildConfigFromFlags("", api.AdminKubeconfig())
		if err != nil {
			return fmt.Errorf("reading %s: %w", api.AdminKubeconfig(), err)
		}
		// The components reach the API server over loopback in this very
		// process: gzip would only cost a compressor (server) and a
		// decompressor (client) per watch, and CPU for every event.
		rc.DisableCompression = true
		client, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return err
		}

		var dnsServer *dns.Server
		if withContainers {
			p, err := proxy.New(proxy.Config{RestConfig: rc, NodeName: cfg.NodeName, ServiceCIDR: cfg.ServiceCIDR,
				PinPath: cfg.BPFPinPath, NodeLocalDNS: netip.AddrPortFrom(bridgeIP, 53)})
			if err != nil {
				return err
			}
			started("service proxy", p.Run)
			if err := waitReady(ctx, p.Ready()); err != nil {
				return fmt.Errorf("waiting for the service proxy: %w", err)
			}
			progress("service proxy ready (eBPF socket load balancing; route for %s stays on the node)", cfg.ServiceCIDR)
			upstreams := cfg.DNSUpstreams
			if len(upstreams) == 0 {
				upstreams = []string{dns.NoUpstream}
			}
			dnsServer, err = dns.New(dns.Config{RestConfig: rc, ListenAddr: netip.AddrPortFrom(bridgeIP, 53).String(),
				Upstreams: upstreams})
			if err != nil {
				return err
			}
			started("cluster DNS", dnsServer.Run)
		}
		if err := ensureDNSService(ctx, client, dnsIP); err != nil {
			return err
		}

		kubeletDir := filepath.Join(cfg.DataDir, "kubelet")
		if err := stageImages(cfg.ImagesDirs, filepath.Join(kubeletDir, "images")); err != nil {
			return err
		}
		ca, err := os.ReadFile(filepath.Join(api.PKIDir(), "ca.crt"))
		if err != nil {
			return fmt.Errorf("reading the cluster CA: %w", err)
		}
		agent, err := kubelet.New(kubelet.Config{RestConfig: rest.CopyConfig(rc), NodeName: cfg.NodeName, Runtime: cfg.Runtime,
			RootDir: kubeletDir, PodCIDR: cfg.PodCIDR, ClusterDNS: dnsIP.String(), ClientCA: ca,
			ServerAddress: cfg.KubeletAddress, BridgeName: cfg.BridgeName, CgroupParent: cfg.CgroupParent,
			RegistryFallback: cfg.RegistryFallback})
		if err != nil {
			return err
		}
		started("node agent", agent.Run)

		mgr, err := manager.New(manager.Config{RestConfig: rest.CopyConfig(rc)})
		if err != nil {
			return err
		}
		started("controllers", mgr.Run)

		if dnsServer != nil {
			if err := waitReady(ctx, dnsServer.Ready()); err != nil {
				return fmt.Errorf("waiting for cluster DNS: %w", err)
			}
			progress("cluster DNS ready (%s -> %s)", dnsIP, dnsServer.Addr())
		}
		if err := waitNodeReady(ctx, client, cfg.NodeName); err != nil {
			return err
		}
		progress("node %s Ready (%s runtime)", cfg.NodeName, cfg.Runtime)

		progress("kubeconfig: %s", api.AdminKubeconfig())
		if cfg.WriteKubeconfig != "" {
			if err := kubeconfig.Merge(api.AdminKubeconfig(), cfg.WriteKubeconfig, ContextName); err != nil {
				return fmt.Errorf("writing kubeconfig: %w", err)
			}
			progress("merged into %s as context %q (now current)", cfg.WriteKubeconfig, ContextName)
			fmt.Fprintf(out, "\nCluster ready. Try: kubectl get nodes\n")
		} else {
			fmt.Fprintf(out, "\nCluster ready. Try: kubectl --kubeconfig %s get nodes\n", api.AdminKubeconfig())
		}
		return nil
	}()
	if err != nil {
		// Stop whatever started; the component's own error, if one failed
		// first, says more than the wait that noticed it.
		g.Go(func() error { return err })
	}
	err = g.Wait()
	if parent.Err() != nil && errors.Is(err, context.Canceled) {
		// Stopped by the user (Ctrl-C) while starting: not a failure.
		return nil
	}
	return err
}

// waitReady blocks until ready is closed, ctx ends or readyTimeout passes.
func waitReady(ctx context.Context, ready <-chan struct{}) error {
	t := time.NewTimer(readyTimeout)
	defer t.Stop()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("not ready after %s", readyTimeout)
	}
}

func port(p int) int {
	if p == 0 {
		return apiserver.DefaultSecurePort
	}
	return p
}

// checkRoot gives one clear line when containers cannot be run.
func checkRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("running containers needs root (sudo kubeseed up), or use --runtime simulated")
	}
	return nil
}
