package v1alpha1

import (
	"strings"
	"testing"
)

func TestDecodeDefaultsAndValidates(t *testing.T) {
	c, err := Decode([]byte(`
apiVersion: config.kubeseed.io/v1alpha1
kind: Cluster
node:
  name: laptop
networking:
  dnsUpstreams: ["127.0.0.1:53"]
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != DefaultDataDir || c.APIServer.SecurePort != DefaultSecurePort || c.Node.Runtime != DefaultRuntime ||
		c.Networking.PodCIDR != DefaultPodCIDR || c.Networking.ServiceCIDR != DefaultServiceCIDR || c.WriteKubeconfig == nil || !*c.WriteKubeconfig ||
		c.Node.RegistryFallback == nil || !*c.Node.RegistryFallback {
		t.Errorf("defaults not applied: %+v", c)
	}
	if c.Node.Name != "laptop" || c.Networking.DNSUpstreams[0] != "127.0.0.1:53" {
		t.Errorf("fields lost: %+v", c)
	}
}

func TestDecodeErrorsNameTheField(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"unknown field": {`apiVersion: config.kubeseed.io/v1alpha1
kind: Cluster
node:
  nmae: typo`, `unknown field "node.nmae"`},
		"bad runtime": {`apiVersion: config.kubeseed.io/v1alpha1
kind: Cluster
node:
  runtime: docker`, `node.runtime: Unsupported value: "docker"`},
		"bad cidr": {`apiVersion: config.kubeseed.io/v1alpha1
kind: Cluster
networking:
  podCIDR: 10.244.0.0`, `networking.podCIDR: Invalid value`},
		"port": {`apiVersion: config.kubeseed.io/v1alpha1
kind: Cluster
apiServer:
  securePort: 70000`, `apiServer.securePort: Invalid value`},
		"wrong kind": {`apiVersion: v1
kind: Pod`, `no kind "Pod" is registered`},
		"not yaml": {`{{`, `test.yaml`},
	} {
		_, err := Decode([]byte(tc.yaml), "test.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", name, err, tc.want)
		}
	}
}

// The sample in config/samples is a valid file.
func TestSampleLoads(t *testing.T) {
	c, err := Load("../../../config/samples/config_v1alpha1_cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Node.ImagesDirs[0] != "bin/images" {
		t.Errorf("sample read as %+v", c)
	}
}
