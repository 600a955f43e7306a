package cmd

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/kubeseed/kubeseed/cluster"
	"github.com/kubeseed/kubeseed/kubeconfig"
	"github.com/kubeseed/kubeseed/kubelet"
	"github.com/kubeseed/kubeseed/kubelet/proxy"
	"github.com/spf13/pflag"
)

// upOptions are the flags of `kubeseed up`.
type upOptions struct {
	cfg             cluster.Config
	writeKubeconfig bool
	logFile         string
	configFile      string
}

func newUpCommand() *cobra.Command {
	o := &upOptions{}
	c := &cobra.Command{
		Use:   "up",
		Short: "Run a whole cluster in this process (etcd, API server, controllers, node agent, proxy, DNS)",
		Long: `Run a whole single-node cluster in this process: embedded etcd and the API
server, the service proxy and cluster DNS, the node agent on containerd, and
the controllers and scheduler. State lives in --data-dir; starting again
brings the same cluster back.

Ctrl-C stops the cluster's processes. Pod containers keep running in their
containerd shims, as they do when a kubelet restarts, and so do their network
namespaces, the pod bridge and the service proxy's eBPF programs; the next
'kubeseed up' adopts them (or removes what the API no longer holds).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			cfg, writeKubeconfig, logFile := o.cfg, o.writeKubeconfig, o.logFile
			if o.configFile != "" {
				var err error
				if cfg, writeKubeconfig, err = withConfigFile(o.configFile, c.Flags(), cfg, writeKubeconfig); err != nil {
					return err
				}
			}
			if writeKubeconfig {
				cfg.WriteKubeconfig = kubeconfig.DefaultPath()
			}
			if logFile == "" {
				logFile = filepath.Join(cfg.DataDir, "kubeseed.log")
			}
			if logFile != "-" {
				if err := os.MkdirAll(filepath.Dir(logFile), 0o700); err != nil {
					return err
				}
				f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
				if err != nil {
					return fmt.Errorf("log file: %w", err)
				}
				defer f.Close()
				// Every log goes to the process's stderr (klog, and etcd's
				// client logger on its own), so pointing stderr at the file
				// moves them all; the terminal keeps the progress lines and
				// the final error.
				restore, err := redirectStderr(f)
				if err != nil {
					return err
				}
				defer restore()
				fmt.Fprintf(c.OutOrStdout(), "Starting kubeseed (logs: %s)\n", logFile)
			}
			return cluster.Run(c.Context(), cfg, c.OutOrStdout())
		},
	}
	o.addFlags(c.Flags())
	return c
}

// addFlags binds the flags to o.
func (o *upOptions) addFlags(f *pflag.FlagSet) {
	host, _ := os.Hostname()
	addHostFlags(f, &o.cfg)
	f.StringVar(&o.configFile, "config", "", "a config.kubeseed.io/v1alpha1 Cluster file (flags given as well win over it)")
	f.StringSliceVar(&o.cfg.EtcdServers, "etcd-servers", nil, "external etcd client URLs (default: etcd embedded under --data-dir)")
	f.StringVar(&o.cfg.EtcdCAFile, "etcd-cafile", "", "CA bundle that verifies external etcd servers")
	f.StringVar(&o.cfg.EtcdCertFile, "etcd-certfile", "", "client certificate for external etcd")
	f.StringVar(&o.cfg.EtcdKeyFile, "etcd-keyfile", "", "client key for external etcd")
	f.StringVar(&o.cfg.NodeName, "node-name", host, "name of the node")
	f.StringVar(&o.cfg.Runtime, "runtime", kubelet.RuntimeContainerd, "container runtime: containerd, or simulated (pods run no containers; no proxy or DNS)")
	f.StringVar(&o.cfg.PodCIDR, "pod-cidr", cluster.DefaultPodCIDR, "the node's pod address range")
	f.StringVar(&o.cfg.ServiceCIDR, "service-cidr", cluster.DefaultServiceCIDR, "the service cluster IP range")
	f.StringSliceVar(&o.cfg.DNSUpstreams, "dns-upstream", nil, "resolvers (host:port) for names outside the cluster domain (default: none, as pods have no route off the node)")
	f.StringSliceVar(&o.cfg.ImagesDirs, "images-dir", nil, "directories of image tarballs the node imports at start (make build puts the demo images in bin/images)")
	addRegistryFlags(f, &o.cfg.RegistryFallback)
	f.StringVar(&o.cfg.KubeletAddress, "kubelet-address", ":10250", "address of the node agent's HTTPS endpoint (logs, exec, port-forward)")
	f.BoolVar(&o.writeKubeconfig, "write-kubeconfig", true, "merge the admin kubeconfig into $KUBECONFIG or ~/.kube/config as context kubeseed (made current)")
	f.StringVar(&o.logFile, "log-file", "", "where component logs go (default <data-dir>/kubeseed.log; - for stderr)")
}

// redirectStderr points file descriptor 2 at f and returns what undoes it.
func redirectStderr(f *os.File) (func(), error) {
	// The saved copy must not leak into children (containerd and its shims
	// would hold the terminal, or a caller's pipe, open for their lifetime).
	saved, err := unix.FcntlInt(2, unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("redirecting stderr: %w", err)
	}
	if err := unix.Dup2(int(f.Fd()), 2); err != nil {
		unix.Close(saved)
		return nil, fmt.Errorf("redirecting stderr: %w", err)
	}
	return func() {
		_ = unix.Dup2(saved, 2)
		_ = unix.Close(saved)
	}, nil
}

// addHostFlags adds the flags saying where a cluster lives on the host,
// which `up` and `reset` share.
func addHostFlags(f *pflag.FlagSet, cfg *cluster.Config) {
	f.StringVar(&cfg.DataDir, "data-dir", cluster.DefaultDataDir, "directory holding the cluster's state (etcd, certificates, node agent)")
	f.IntVar(&cfg.SecurePort, "secure-port", 6443, "HTTPS port of the API server (on 127.0.0.1)")
	f.StringVar(&cfg.BPFPinPath, "bpf-pin-path", proxy.DefaultPinPath, "bpf filesystem directory of the service proxy's maps and links")
	f.StringVar(&cfg.BridgeName, "bridge", "kubeseed0", "name of the pod bridge")
	f.StringVar(&cfg.CgroupParent, "cgroup-parent", "/kubeseed", "cgroup holding the pods")
}
