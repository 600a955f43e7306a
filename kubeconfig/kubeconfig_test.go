package kubeconfig

import (
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func writeConfig(t *testing.T, path, name, server string) {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: []byte("ca")}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: []byte("cert"), ClientKeyData: []byte("key")}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: "default"}
	cfg.CurrentContext = name
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
}

func TestMergeKeepsOtherContextsAndSwitchesCurrent(t *testing.T) {
	dir := t.TempDir()
	admin := filepath.Join(dir, "admin.kubeconfig")
	user := filepath.Join(dir, "home", ".kube", "config")
	writeConfig(t, admin, "admin@local", "https://127.0.0.1:6443")
	writeConfig(t, user, "work", "https://work.example:443")

	if err := Merge(admin, user, "kubeseed"); err != nil {
		t.Fatal(err)
	}
	got, err := clientcmd.LoadFromFile(user)
	if err != nil {
		t.Fatal(err)
	}
	if got.CurrentContext != "kubeseed" {
		t.Errorf("current context = %q, want kubeseed", got.CurrentContext)
	}
	if got.Clusters["kubeseed"].Server != "https://127.0.0.1:6443" {
		t.Errorf("kubeseed cluster server = %q", got.Clusters["kubeseed"].Server)
	}
	if string(got.AuthInfos["kubeseed"].ClientKeyData) != "key" {
		t.Error("client key not carried over")
	}
	if _, ok := got.Contexts["work"]; !ok {
		t.Error("the user's other context was dropped")
	}

	// Merging again (a restarted cluster) replaces, never duplicates.
	writeConfig(t, admin, "admin@local", "https://127.0.0.1:7443")
	if err := Merge(admin, user, "kubeseed"); err != nil {
		t.Fatal(err)
	}
	got, _ = clientcmd.LoadFromFile(user)
	if got.Clusters["kubeseed"].Server != "https://127.0.0.1:7443" || len(got.Contexts) != 2 {
		t.Errorf("second merge: server %q, %d contexts", got.Clusters["kubeseed"].Server, len(got.Contexts))
	}
}

func TestMergeCreatesMissingFile(t *testing.T) {
	dir := t.TempDir()
	admin := filepath.Join(dir, "admin.kubeconfig")
	writeConfig(t, admin, "a", "https://127.0.0.1:6443")
	dst := filepath.Join(dir, "new", "config")
	if err := Merge(admin, dst, "kubeseed"); err != nil {
		t.Fatal(err)
	}
	got, err := clientcmd.LoadFromFile(dst)
	if err != nil || got.CurrentContext != "kubeseed" {
		t.Fatalf("new file: %v, current %q", err, got.CurrentContext)
	}
}

func TestMergeRejectsBrokenSource(t *testing.T) {
	dir := t.TempDir()
	if err := Merge(filepath.Join(dir, "missing"), filepath.Join(dir, "dst"), "kubeseed"); err == nil {
		t.Error("missing source accepted")
	}
}
