//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kubeseed/kubeseed/test/testenv"
)

const echoDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
  labels:
    app: echo
spec:
  replicas: 3
  selector:
    matchLabels:
      app: echo
  template:
    metadata:
      labels:
        app: echo
    spec:
      containers:
      - name: echo
        image: kubeseed/echo:latest
        ports:
        - containerPort: 8080
`

// TestStockKubectlAgainstUpstream proves the e2e harness: every kubectl the
// suites use can apply and read back the seed Deployment on the upstream API
// server that the differential suites compare kubeseed with.
func TestStockKubectlAgainstUpstream(t *testing.T) {
	env, err := testenv.Upstream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Start(); err != nil {
		t.Fatalf("starting upstream kube-apiserver: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })

	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	kcPath := filepath.Join(dir, "kubeconfig")
	manifest := filepath.Join(dir, "deployment.yaml")
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(manifest, []byte(echoDeployment), 0o600); err != nil {
		t.Fatal(err)
	}

	for name, kubectl := range kubectls(t) {
		t.Run(name, func(t *testing.T) {
			ns := "e2e-" + strings.ReplaceAll(name, ".", "")
			k := func(args ...string) string {
				t.Helper()
				out, err := run(t, 30*time.Second, kubectl, append([]string{"--kubeconfig", kcPath}, args...)...)
				if err != nil {
					t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return out
			}
			k("create", "namespace", ns)
			if out := k("apply", "-n", ns, "-f", manifest); out != "deployment.apps/echo created" {
				t.Errorf("apply printed %q", out)
			}
			if out := k("get", "-n", ns, "deployment", "echo", "-o", "jsonpath={.spec.replicas} {.spec.strategy.type}"); out != "3 RollingUpdate" {
				t.Errorf("stored deployment reads back as %q, want \"3 RollingUpdate\"", out)
			}
			if out := k("get", "ns", ns, "--no-headers", "-o", "custom-columns=STATUS:.status.phase"); out != "Active" {
				t.Errorf("namespace status %q, want Active", out)
			}
		})
	}
}
