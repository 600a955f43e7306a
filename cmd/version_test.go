package cmd

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/kubeseed/kubeseed/version"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := NewRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestVersionPrintsKubeseedAndKubernetesVersions(t *testing.T) {
	out, err := run(t, "version")
	if err != nil {
		t.Fatalf("version: %v", err)
	}
	if !strings.HasPrefix(out, "kubeseed "+version.Version) {
		t.Errorf("first line should name the kubeseed version, got %q", out)
	}
	if !strings.Contains(out, "Kubernetes API v1.37.") {
		t.Errorf("output should name the served Kubernetes API v1.37.x, got %q", out)
	}
}

func TestVersionJSON(t *testing.T) {
	out, err := run(t, "version", "-o", "json")
	if err != nil {
		t.Fatalf("version -o json: %v", err)
	}
	var info version.Info
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if info.Kubernetes != version.Kubernetes {
		t.Errorf("kubernetes = %q, want %q", info.Kubernetes, version.Kubernetes)
	}
}

func TestVersionRejectsUnknownOutput(t *testing.T) {
	if _, err := run(t, "version", "-o", "yaml"); err == nil {
		t.Fatal("version -o yaml should fail with a clear error")
	}
}
