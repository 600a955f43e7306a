package cmd

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeseed/kubeseed/kubelet"
	"github.com/kubeseed/kubeseed/kubelet/registry"
)

// addRegistryFlags adds --registry-fallback, which `kubelet` and `up` share.
func addRegistryFlags(f *pflag.FlagSet, fallback *bool) {
	f.BoolVar(fallback, "registry-fallback", true, "pull images the node's registry mirror lacks from their registries; false: contact no registry off this machine")
}

func newKubeletCommand() *cobra.Command {
	var (
		kubeconfig, clientCAFile string
		cfg                      kubelet.Config
	)
	c := &cobra.Command{
		Use:   "kubelet",
		Short: "Run the node agent that runs pods on containerd",
		Long: `Run the node agent: it registers the node, renews its lease and runs the pods
bound to it as containers on containerd (started under --root-dir unless
--containerd-address names a running one), with one network namespace per pod
on the CNI bridge. --runtime simulated runs no containers (for scale tests).

Pulls of docker.io and registry.k8s.io images (--mirrored-registries) go first
to the node's read-only registry mirror on 127.0.0.1, which serves the images
of the node's containerd, then to the registry itself unless
--registry-fallback=false.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
				&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig, Precedence: clientcmd.NewDefaultClientConfigLoadingRules().Precedence},
				&clientcmd.ConfigOverrides{}).ClientConfig()
			if err != nil {
				return fmt.Errorf("loading kubeconfig: %w", err)
			}
			cfg.RestConfig = rc
			if clientCAFile != "" {
				if cfg.ClientCA, err = os.ReadFile(clientCAFile); err != nil {
					return fmt.Errorf("reading client CA: %w", err)
				}
			}
			a, err := kubelet.New(cfg)
			if err != nil {
				return err
			}
			return a.Run(c.Context())
		},
	}
	f := c.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the API server (default: $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&cfg.NodeName, "node-name", "", "name of the Node to register")
	f.StringVar(&cfg.Runtime, "runtime", kubelet.RuntimeContainerd, "container runtime: containerd or simulated")
	f.StringVar(&cfg.ContainerdAddress, "containerd-address", "", "socket of a running containerd (default: start one under --root-dir)")
	f.StringVar(&cfg.RootDir, "root-dir", kubelet.DefaultRootDir, "directory of the agent's state")
	f.StringVar(&cfg.PodCIDR, "pod-cidr", kubelet.DefaultPodCIDR, "range of pod addresses on this node")
	f.StringVar(&cfg.ClusterDNS, "cluster-dns", kubelet.DefaultClusterDNS, "address of the cluster DNS service")
	f.StringVar(&cfg.ClusterDomain, "cluster-domain", kubelet.DefaultClusterDomain, "cluster DNS domain")
	f.StringVar(&cfg.NodeIP, "node-ip", "", "InternalIP of the node (default: detected)")
	f.DurationVar(&cfg.Resync, "sync-frequency", 0, "how often each pod is synced without a trigger (0: 2s with containerd, 1m with the simulated runtime)")
	f.StringVar(&cfg.ServerAddress, "address", ":10250", "address of the node's HTTPS endpoint (logs, exec, attach, port-forward)")
	f.StringVar(&clientCAFile, "client-ca-file", "", "CA bundle of the API server's kubelet client certificate (without it, no HTTPS endpoint)")
	addRegistryFlags(f, &cfg.RegistryFallback)
	f.StringVar(&cfg.RegistryMirrorAddress, "registry-mirror-address", "127.0.0.1:0", "loopback address of the node's registry mirror (port 0: a free one)")
	f.StringSliceVar(&cfg.MirroredRegistries, "mirrored-registries", registry.DefaultMirrored, "registries whose pulls try the node's registry mirror first")
	_ = c.MarkFlagRequired("node-name")
	return c
}
