//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

func TestBinaryReportsVersions(t *testing.T) {
	out, err := run(t, 10*time.Second, kubeseedBinary(t), "version")
	if err != nil {
		t.Fatalf("kubeseed version: %v\n%s", err, out)
	}
	if !strings.HasPrefix(out, "kubeseed v") || !strings.Contains(out, "Kubernetes API v1.37.") {
		t.Errorf("unexpected version output:\n%s", out)
	}
}

func TestBinaryListsEveryRole(t *testing.T) {
	out, err := run(t, 10*time.Second, kubeseedBinary(t), "--help")
	if err != nil {
		t.Fatalf("kubeseed --help: %v\n%s", err, out)
	}
	for _, sub := range []string{"up", "apiserver", "controllers", "kubelet", "version"} {
		if !strings.Contains(out, "\n  "+sub+" ") {
			t.Errorf("help does not list the %q subcommand:\n%s", sub, out)
		}
	}
}
