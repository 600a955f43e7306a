//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubeseed/kubeseed/test/testenv"
)

// kubeseedBinary returns the binary under test, built by `make build`.
func kubeseedBinary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("KUBESEED_BIN")
	if bin == "" {
		t.Fatal("KUBESEED_BIN is not set: run the suites with `make test-e2e`")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("kubeseed binary: %v", err)
	}
	return bin
}

// kubectls returns every kubectl the suites must pass with: the v1.37 one
// `make envtest` builds and the machine's own (older) one when present.
func kubectls(t testing.TB) map[string]string {
	t.Helper()
	dir, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{"kubectl-1.37": filepath.Join(dir, "kubectl")}
	if path, err := exec.LookPath("kubectl"); err == nil {
		found["kubectl-system"] = path
	}
	return found
}

// run executes a command with a bounded time and returns its combined output.
func run(t testing.TB, timeout time.Duration, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}
