package containerd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"k8s.io/klog/v2"
)

// Daemon is a containerd process the agent started and owns.
type Daemon struct {
	// Address is the daemon's gRPC socket.
	Address string
	dir     string
	pid     int
	cmd     *exec.Cmd
	exited  chan struct{}
}

// maxSocketPath keeps unix socket paths below the kernel's 108-byte sun_path
// limit, with room for the ".ttrpc" suffix containerd adds.
const maxSocketPath = 100

// SocketPath is where the daemon for rootDir listens: under rootDir when the
// path is short enough, else under /run/kubeseed named by a hash of rootDir.
func SocketPath(rootDir string) string {
	p := filepath.Join(rootDir, "containerd", "containerd.sock")
	if len(p)+len(".ttrpc") <= maxSocketPath {
		return p
	}
	sum := sha256.Sum256([]byte(rootDir))
	return filepath.Join("/run/kubeseed", hex.EncodeToString(sum[:6])+".sock")
}

// daemonConfig is a containerd 1.6/2.x configuration with everything under
// dir and the CRI plugin off: the agent drives containerd through its Go
// client and is itself the node's kubelet.
func daemonConfig(dir, address string) string {
	return fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[plugins."io.containerd.internal.v1.opt"]
  path = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), address, address+".ttrpc", filepath.Join(dir, "opt"))
}

// StartDaemon starts containerd with its state under rootDir/containerd and
// waits until it answers. A daemon this agent started before (recorded in a
// pid file) that still answers is adopted instead of started twice.
func StartDaemon(ctx context.Context, rootDir string) (*Daemon, error) {
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return nil, errors.New("containerd not found in PATH: install Debian's containerd and runc (hack/install-deps.sh)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return nil, errors.New("runc not found in PATH: install Debian's runc (hack/install-deps.sh)")
	}
	dir := filepath.Join(rootDir, "containerd")
	address := SocketPath(rootDir)
	for _, d := range []string{dir, filepath.Dir(address)} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, err
		}
	}
	d := &Daemon{Address: address, dir: dir, exited: make(chan struct{})}
	pidFile := filepath.Join(dir, "containerd.pid")
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && syscall.Kill(pid, 0) == nil && answers(ctx, address) {
			klog.FromContext(ctx).Info("Adopting containerd started earlier", "pid", pid, "address", address)
			d.pid = pid
			return d, nil
		}
	}
	_ = os.Remove(address)
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(daemonConfig(dir, address)), 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(filepath.Join(dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group: a Ctrl-C on the agent's terminal must not kill
	// containerd before the agent has finished with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting containerd: %w", err)
	}
	d.cmd, d.pid = cmd, cmd.Process.Pid
	go func() { _ = cmd.Wait(); close(d.exited) }()
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(d.pid)), 0o600); err != nil {
		d.Stop()
		return nil, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for !answers(ctx, address) {
		select {
		case <-d.exited:
			return nil, fmt.Errorf("containerd exited at start: see %s", filepath.Join(dir, "containerd.log"))
		case <-ctx.Done():
			d.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.Stop()
			return nil, fmt.Errorf("containerd did not answer on %s within 20s", address)
		}
	}
	klog.FromContext(ctx).Info("Started containerd", "pid", d.pid, "address", address)
	return d, nil
}

// answers reports whether a containerd serves on address.
func answers(ctx context.Context, address string) bool {
	if _, err := os.Stat(address); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c, err := containerd.New(address, containerd.WithTimeout(time.Second))
	if err != nil {
		return false
	}
	defer c.Close()
	_, err = c.Version(ctx)
	return err == nil
}

// Stop ends the daemon (SIGTERM, then SIGKILL after 10 s). Containers keep
// running in their shims; a later daemon finds them again.
func (d *Daemon) Stop() {
	if d == nil || d.pid == 0 {
		return
	}
	_ = syscall.Kill(d.pid, syscall.SIGTERM)
	if d.cmd != nil {
		select {
		case <-d.exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(d.pid, syscall.SIGKILL)
			<-d.exited
		}
	} else {
		for i := 0; i < 100 && syscall.Kill(d.pid, 0) == nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
		_ = syscall.Kill(d.pid, syscall.SIGKILL)
	}
	_ = os.Remove(filepath.Join(d.dir, "containerd.pid"))
	if !strings.HasPrefix(d.Address, d.dir) {
		_ = os.Remove(d.Address)
		_ = os.Remove(d.Address + ".ttrpc")
	}
	d.pid = 0
}
