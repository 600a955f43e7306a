package cmd

import (
	"github.com/spf13/pflag"

	configv1alpha1 "github.com/kubeseed/kubeseed/apis/config/v1alpha1"
	"github.com/kubeseed/kubeseed/cluster"
)

// withConfigFile returns the cluster configuration of the file at path,
// with every flag the user set on the command line laid over it (flags win,
// as in upstream components' --config).
func withConfigFile(path string, flags *pflag.FlagSet, fromFlags cluster.Config, writeKubeconfig bool) (cluster.Config, bool, error) {
	file, err := configv1alpha1.Load(path)
	if err != nil {
		return cluster.Config{}, false, err
	}
	cfg := fromFlags
	cfg.DataDir = file.DataDir
	cfg.SecurePort = int(file.APIServer.SecurePort)
	cfg.EtcdServers = file.APIServer.Etcd.Servers
	cfg.EtcdCAFile, cfg.EtcdCertFile, cfg.EtcdKeyFile = file.APIServer.Etcd.CAFile, file.APIServer.Etcd.CertFile, file.APIServer.Etcd.KeyFile
	if file.Node.Name != "" {
		cfg.NodeName = file.Node.Name
	}
	cfg.Runtime = file.Node.Runtime
	cfg.ImagesDirs = file.Node.ImagesDirs
	cfg.RegistryFallback = *file.Node.RegistryFallback
	cfg.PodCIDR = file.Networking.PodCIDR
	cfg.ServiceCIDR = file.Networking.ServiceCIDR
	cfg.DNSUpstreams = file.Networking.DNSUpstreams
	write := *file.WriteKubeconfig

	flags.Visit(func(f *pflag.Flag) {
		switch f.Name {
		case "data-dir":
			cfg.DataDir = fromFlags.DataDir
		case "secure-port":
			cfg.SecurePort = fromFlags.SecurePort
		case "etcd-servers":
			cfg.EtcdServers = fromFlags.EtcdServers
		case "etcd-cafile":
			cfg.EtcdCAFile = fromFlags.EtcdCAFile
		case "etcd-certfile":
			cfg.EtcdCertFile = fromFlags.EtcdCertFile
		case "etcd-keyfile":
			cfg.EtcdKeyFile = fromFlags.EtcdKeyFile
		case "node-name":
			cfg.NodeName = fromFlags.NodeName
		case "runtime":
			cfg.Runtime = fromFlags.Runtime
		case "images-dir":
			cfg.ImagesDirs = fromFlags.ImagesDirs
		case "registry-fallback":
			cfg.RegistryFallback = fromFlags.RegistryFallback
		case "pod-cidr":
			cfg.PodCIDR = fromFlags.PodCIDR
		case "service-cidr":
			cfg.ServiceCIDR = fromFlags.ServiceCIDR
		case "dns-upstream":
			cfg.DNSUpstreams = fromFlags.DNSUpstreams
		case "write-kubeconfig":
			write = writeKubeconfig
		}
	})
	return cfg, write, nil
}
