package cmd

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubeseed/kubeseed/kubelet/images"
	kcontainerd "github.com/kubeseed/kubeseed/kubelet/runtime/containerd"
)

func TestImageImportAndList(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs containerd")
	}
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Fatal("containerd not installed: run hack/install-deps.sh")
	}
	// A node's containerd where `kubeseed up --data-dir` puts it.
	dataDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := kcontainerd.StartDaemon(ctx, filepath.Join(dataDir, "kubelet"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	tarball := filepath.Join(t.TempDir(), "hello.tar")
	f, err := os.Create(tarball)
	if err != nil {
		t.Fatal(err)
	}
	if err := images.WriteOCILayout(f, images.Image{Name: "example.com/hello:v1",
		Files: []images.File{{Path: "hello", Content: []byte("hi\n")}}, Cmd: []string{"/hello"}}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		root := NewRootCommand()
		root.SetArgs(args)
		root.SetOut(&out)
		root.SetErr(&out)
		err := root.ExecuteContext(ctx)
		return out.String(), err
	}
	out, err := run("image", "import", "--data-dir", dataDir, tarball)
	if err != nil || !strings.Contains(out, "Imported example.com/hello:v1") {
		t.Fatalf("image import: %v\n%s", err, out)
	}
	out, err = run("image", "ls", "--data-dir", dataDir)
	if err != nil {
		t.Fatalf("image ls: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || strings.Join(strings.Fields(lines[0]), " ") != "REPOSITORY TAG DIGEST SIZE" {
		t.Fatalf("image ls:\n%s", out)
	}
	if fields := strings.Fields(lines[1]); len(fields) < 4 || fields[0] != "example.com/hello" || fields[1] != "v1" || len(fields[2]) != 12 {
		t.Fatalf("image ls row %q", lines[1])
	}
	// Through the socket directly, too.
	if out, err := run("image", "ls", "--address", d.Address); err != nil || !strings.Contains(out, "example.com/hello") {
		t.Fatalf("image ls --address: %v\n%s", err, out)
	}
	if _, err := run("image", "ls", "--data-dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "no node containerd answers") {
		t.Fatalf("image ls without a node: %v", err)
	}
}
