package pki

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WriteKubeconfig writes a kubeconfig for server that authenticates with the
// client certificate certFile/keyFile (paths under dir) and trusts the CA.
// The credentials are embedded so the file works when copied elsewhere.
func WriteKubeconfig(path, server, dir, certFile, keyFile, context string) error {
	ca, err := os.ReadFile(filepath.Join(dir, CACert))
	if err != nil {
		return fmt.Errorf("reading CA: %w", err)
	}
	cert, err := os.ReadFile(filepath.Join(dir, certFile))
	if err != nil {
		return fmt.Errorf("reading client certificate: %w", err)
	}
	key, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		return fmt.Errorf("reading client key: %w", err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[context] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[context] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts[context] = &clientcmdapi.Context{Cluster: context, AuthInfo: context}
	cfg.CurrentContext = context
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return os.Chmod(path, 0o600)
}
