package proxy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/client-go/kubernetes/fake"
)

const prereqEnv = "KUBESEED_PROXY_TEST_PREREQ"

// runUnprivileged is the child of TestMissingCapabilities: it runs the proxy
// and prints what Run says.
func runUnprivileged() {
	p, err := New(Config{Client: fake.NewClientset(), PinPath: os.Getenv(prereqEnv)})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = p.Run(ctx)
		cancel()
	}
	if err != nil {
		os.Stdout.WriteString(err.Error())
	}
	os.Exit(0)
}

// TestMissingCapabilities runs the proxy as an unprivileged user: it must say
// in one line which capabilities it lacks, before touching anything.
func TestMissingCapabilities(t *testing.T) {
	requireRoot(t)
	// The test binary sits in a directory only root may enter: copy it.
	dir, err := os.MkdirTemp("", "kubeseed-proxy-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "proxy.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), prereqEnv+"=/nonexistent/kubeseed-test")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	want := "service proxy needs capabilities it lacks: CAP_BPF, CAP_NET_ADMIN (run the node agent as root)"
	if string(out) != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

func TestNoCgroup2(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("capabilities are checked first")
	}
	dir := t.TempDir()
	err := CheckPrerequisites(dir)
	if err == nil || !strings.Contains(err.Error(), "needs cgroup2: "+dir+" is not a cgroup2 mount") {
		t.Errorf("got %v", err)
	}
}

// TestEnsureBPFFS: a pin path below the conventional mount point gets a bpf
// filesystem mounted there when none is; other paths must already be on one.
func TestEnsureBPFFS(t *testing.T) {
	requireRoot(t)
	sysBPF := t.TempDir()
	if err := ensureBPFFSAt(filepath.Join(sysBPF, "kubeseed"), sysBPF); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(sysBPF, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting: %v", err)
		}
	})
	if !isBPFFS(sysBPF) {
		t.Fatal("no bpf filesystem mounted")
	}
	if err := ensureBPFFSAt(filepath.Join(sysBPF, "kubeseed"), sysBPF); err != nil {
		t.Errorf("second call: %v", err)
	}
	other := t.TempDir()
	if err := ensureBPFFSAt(filepath.Join(other, "pins"), sysBPF); err == nil || !strings.Contains(err.Error(), "is not on a bpf filesystem") {
		t.Errorf("pin path off bpffs: got %v", err)
	}
}
