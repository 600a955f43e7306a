package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// The file sets the cluster; a flag given as well wins; a typo in the file
// is an error naming the field.
func TestUpConfigFileAndFlags(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kubeseed.yaml")
	if err := os.WriteFile(path, []byte(`apiVersion: config.kubeseed.io/v1alpha1
kind: Cluster
dataDir: /srv/kubeseed
apiServer:
  securePort: 7443
node:
  name: from-file
  runtime: simulated
  registryFallback: false
networking:
  podCIDR: 10.250.0.0/24
writeKubeconfig: false
`), 0o600); err != nil {
		t.Fatal(err)
	}
	o := &upOptions{}
	flags := pflag.NewFlagSet("up", pflag.ContinueOnError)
	o.addFlags(flags)
	if err := flags.Parse([]string{"--config", path, "--node-name", "from-flag"}); err != nil {
		t.Fatal(err)
	}
	cfg, write, err := withConfigFile(o.configFile, flags, o.cfg, o.writeKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/srv/kubeseed" || cfg.SecurePort != 7443 || cfg.Runtime != "simulated" || cfg.PodCIDR != "10.250.0.0/24" || write {
		t.Errorf("file values not applied: %+v write=%v", cfg, write)
	}
	if cfg.NodeName != "from-flag" {
		t.Errorf("node name %q, want the flag's", cfg.NodeName)
	}
	if cfg.ServiceCIDR != "10.96.0.0/12" {
		t.Errorf("service CIDR %q, want the default", cfg.ServiceCIDR)
	}
	if cfg.RegistryFallback {
		t.Error("registry fallback on, the file turned it off")
	}
	if err := flags.Set("registry-fallback", "true"); err != nil {
		t.Fatal(err)
	}
	if cfg, _, err = withConfigFile(o.configFile, flags, o.cfg, o.writeKubeconfig); err != nil || !cfg.RegistryFallback {
		t.Errorf("--registry-fallback=true lost to the file: %v", err)
	}

	if err := os.WriteFile(path, []byte("apiVersion: config.kubeseed.io/v1alpha1\nkind: Cluster\nnode:\n  runtme: simulated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := withConfigFile(path, flags, o.cfg, o.writeKubeconfig); err == nil || !strings.Contains(err.Error(), `unknown field "node.runtme"`) {
		t.Errorf("typo: %v", err)
	}
}
