package cmd

import (
	"github.com/spf13/cobra"

	"github.com/kubeseed/kubeseed/apiserver"
)

func newAPIServerCommand() *cobra.Command {
	var cfg apiserver.Config
	c := &cobra.Command{
		Use:   "apiserver",
		Short: "Run the Kubernetes API server with embedded or external etcd",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := apiserver.New(cfg)
			if err != nil {
				return err
			}
			return s.Run(c.Context())
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "/var/lib/kubeseed", "directory for pki/, etcd/ and admin.kubeconfig")
	f.IntVar(&cfg.SecurePort, "secure-port", apiserver.DefaultSecurePort, "HTTPS port")
	f.StringVar(&cfg.BindAddress, "bind-address", apiserver.DefaultBindAddress, "address to listen on")
	f.StringVar(&cfg.AdvertiseAddress, "advertise-address", "", "address published in the kubernetes service's endpoints (default: derived from --bind-address)")
	f.StringSliceVar(&cfg.EtcdServers, "etcd-servers", nil, "external etcd client URLs (default: run etcd embedded, data under --data-dir)")
	f.StringVar(&cfg.EtcdCAFile, "etcd-cafile", "", "CA bundle that verifies external etcd servers")
	f.StringVar(&cfg.EtcdCertFile, "etcd-certfile", "", "client certificate for external etcd")
	f.StringVar(&cfg.EtcdKeyFile, "etcd-keyfile", "", "client key for external etcd")
	f.StringVar(&cfg.ServiceClusterIPRange, "service-cluster-ip-range", apiserver.DefaultServiceClusterIPRange, "CIDR that service cluster IPs come from")
	f.StringVar(&cfg.ServiceNodePortRange, "service-node-port-range", apiserver.DefaultServiceNodePortRange, "inclusive range node ports come from")
	f.StringSliceVar(&cfg.DisableAdmissionPlugins, "disable-admission-plugins", nil, "admission plugins to turn off, as kube-apiserver's flag (ServiceAccount, Priority; envtest runs kube-apiserver with --disable-admission-plugins=ServiceAccount)")
	return c
}
