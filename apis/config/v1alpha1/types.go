package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Cluster configures a whole single-node cluster run by `kubeseed up`.
// Every field is optional; flags given on the command line win over it.
//
//	apiVersion: config.kubeseed.io/v1alpha1
//	kind: Cluster
//	dataDir: /var/lib/kubeseed
//	apiServer:
//	  securePort: 6443
//	node:
//	  name: laptop
//	networking:
//	  podCIDR: 10.244.0.0/24
//
// +kubebuilder:object:root=true
type Cluster struct {
	metav1.TypeMeta `json:",inline"`

	// DataDir keeps the cluster's state (etcd, certificates, node agent).
	// Default /var/lib/kubeseed.
	DataDir string `json:"dataDir,omitempty"`
	// APIServer configures the API server and its storage.
	APIServer APIServer `json:"apiServer,omitempty"`
	// Node configures the one node.
	Node Node `json:"node,omitempty"`
	// Networking configures pod and service addresses and DNS.
	Networking Networking `json:"networking,omitempty"`
	// WriteKubeconfig merges the admin kubeconfig into $KUBECONFIG or
	// ~/.kube/config as context kubeseed. Default true.
	WriteKubeconfig *bool `json:"writeKubeconfig,omitempty"`
}

// APIServer configures the API server.
type APIServer struct {
	// SecurePort is the HTTPS port on 127.0.0.1. Default 6443.
	SecurePort int32 `json:"securePort,omitempty"`
	// Etcd names an external etcd cluster; empty runs etcd embedded.
	Etcd Etcd `json:"etcd,omitempty"`
}

// Etcd is an external etcd cluster.
type Etcd struct {
	// Servers are client URLs, e.g. https://10.0.0.5:2379.
	Servers []string `json:"servers,omitempty"`
	// CAFile, CertFile and KeyFile secure the connection.
	CAFile   string `json:"caFile,omitempty"`
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
}

// Node configures the node agent.
type Node struct {
	// Name of the node. Default: the host name.
	Name string `json:"name,omitempty"`
	// Runtime is containerd (default) or simulated (pods run no containers).
	Runtime string `json:"runtime,omitempty"`
	// ImagesDirs hold image tarballs imported at start.
	ImagesDirs []string `json:"imagesDirs,omitempty"`
	// RegistryFallback lets the node pull the images its registry mirror
	// lacks from their registries. Default true; false keeps every pull on
	// the machine.
	RegistryFallback *bool `json:"registryFallback,omitempty"`
}

// Networking configures addresses.
type Networking struct {
	// PodCIDR is the node's pod range. Default 10.244.0.0/24.
	PodCIDR string `json:"podCIDR,omitempty"`
	// ServiceCIDR is the service cluster IP range. Default 10.96.0.0/12.
	ServiceCIDR string `json:"serviceCIDR,omitempty"`
	// DNSUpstreams are resolvers (host:port) for names outside the
	// cluster domain. Default none: pods have no route off the node.
	DNSUpstreams []string `json:"dnsUpstreams,omitempty"`
}
