//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kubeseed/kubeseed/test/testenv"
)

// The cluster the journey runs on is kept apart from one a developer may be
// running with `make up`: its own data dir, port, bridge, pod and service
// ranges, cgroup and BPF pins.
const (
	e2eBridge       = "kse2e0"
	e2ePodCIDR      = "10.246.7.0/24"
	e2eServiceCIDR  = "10.112.0.0/16"
	e2eCgroupParent = "/kubeseed-e2e"
	e2ePinPath      = "/sys/fs/bpf/kubeseed-e2e"
)

// upProcess is a running `kubeseed up`.
type upProcess struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
}

func (p *upProcess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// cluster is one `kubeseed up` under test and the kubectl that drives it.
type cluster struct {
	t          testing.TB
	bin        string
	args       []string
	dataDir    string
	kubeconfig string
	up         *upProcess
	// readyAfter is how long the last start took to print "Cluster ready".
	readyAfter time.Duration
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startCluster runs `kubeseed up` as a user would (plus the flags that keep
// it apart from a developer's cluster) and waits for its "Cluster ready".
func startCluster(t testing.TB) *cluster {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: kubeseed up runs containers, netns and eBPF")
	}
	images := os.Getenv("KUBESEED_IMAGES")
	if images == "" {
		t.Fatal("KUBESEED_IMAGES is not set: run the suites with `make test-e2e`")
	}
	// Every pod sysctl the bridge changes is put back afterwards.
	forward, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	dataDir, err := os.MkdirTemp("", "kubeseed-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, bin: kubeseedBinary(t), dataDir: dataDir, kubeconfig: filepath.Join(dataDir, "admin.kubeconfig")}
	c.args = []string{"up", "--data-dir", dataDir, "--secure-port", strconv.Itoa(freePort(t)),
		"--write-kubeconfig=false", "--images-dir", images, "--node-name", "e2e-node",
		"--pod-cidr", e2ePodCIDR, "--service-cidr", e2eServiceCIDR, "--bridge", e2eBridge,
		"--cgroup-parent", e2eCgroupParent, "--bpf-pin-path", e2ePinPath, "--kubelet-address", "0.0.0.0:0",
		// No packet may leave the machine: pulls reach the node's mirror only.
		"--registry-fallback=false"}
	t.Cleanup(func() {
		c.teardown()
		if len(forward) > 0 {
			_ = os.WriteFile("/proc/sys/net/ipv4/ip_forward", forward, 0o644)
		}
	})
	c.start()
	return c
}

// start launches `kubeseed up` and waits for it to be ready.
func (c *cluster) start() {
	t := c.t
	t.Helper()
	p := &upProcess{cmd: exec.Command(c.bin, c.args...), done: make(chan struct{})}
	started := time.Now()
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting kubeseed up: %v", err)
	}
	c.up = p
	ready := make(chan struct{})
	go func() {
		defer close(p.done)
		s := bufio.NewScanner(stdout)
		once := sync.Once{}
		for s.Scan() {
			p.mu.Lock()
			p.out.WriteString(s.Text() + "\n")
			p.mu.Unlock()
			if strings.HasPrefix(s.Text(), "Cluster ready") {
				once.Do(func() { close(ready) })
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = p.cmd.Wait()
	}()
	select {
	case <-ready:
		c.readyAfter = time.Since(started)
		t.Logf("kubeseed up:\n%s", p.output())
	case <-p.done:
		t.Fatalf("kubeseed up exited before ready:\n%s\n%s", p.output(), c.logTail())
	case <-time.After(3 * time.Minute):
		t.Fatalf("kubeseed up not ready in 3m:\n%s\n%s", p.output(), c.logTail())
	}
}

// logTail is the end of the component log, for failure messages.
func (c *cluster) logTail() string {
	b, _ := os.ReadFile(filepath.Join(c.dataDir, "kubeseed.log"))
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return "log tail:\n" + string(b)
}

// stop ends `kubeseed up` with sig and waits for it to exit.
func (c *cluster) stop(sig syscall.Signal) {
	if c.up == nil || c.up.cmd.Process == nil {
		return
	}
	_ = c.up.cmd.Process.Signal(sig)
	select {
	case <-c.up.done:
	case <-time.After(60 * time.Second):
		_ = c.up.cmd.Process.Kill()
		<-c.up.done
		c.t.Errorf("kubeseed up did not stop within 60s of %v", sig)
	}
	c.up = nil
}

// teardown removes every pod (so no container outlives the test), stops the
// cluster and removes what the node left on the host.
func (c *cluster) teardown() {
	if c.up != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		for _, ns := range []string{"default", "e2e-restart"} {
			_ = exec.CommandContext(ctx, c.kubectlPath(), "--kubeconfig", c.kubeconfig, "delete", "all", "--all",
				"-n", ns, "--wait=true", "--timeout=80s").Run()
		}
		cancel()
		c.stop(syscall.SIGTERM)
	}
	// `kubeseed reset` removes what the cluster left on the host; check
	// that it did, as a user who runs it would.
	args := []string{"reset", "--data-dir", c.dataDir, "--bridge", e2eBridge, "--cgroup-parent", e2eCgroupParent, "--bpf-pin-path", e2ePinPath}
	for i, a := range c.args {
		if a == "--secure-port" {
			args = append(args, a, c.args[i+1])
		}
	}
	if out, err := run(c.t, 2*time.Minute, c.bin, args...); err != nil {
		c.t.Errorf("kubeseed reset: %v\n%s", err, out)
	}
	if _, err := net.InterfaceByName(e2eBridge); err == nil {
		c.t.Errorf("bridge %s left after reset", e2eBridge)
	}
	if _, err := os.Stat(e2ePinPath); err == nil {
		c.t.Errorf("BPF pins %s left after reset", e2ePinPath)
	}
	if out, _ := run(c.t, 10*time.Second, "ip", "route", "show", e2eServiceCIDR); out != "" {
		c.t.Errorf("route left after reset: %s", out)
	}
	if mounts, _ := os.ReadFile("/proc/self/mounts"); strings.Contains(string(mounts), c.dataDir) {
		c.t.Errorf("mounts under %s left after reset", c.dataDir)
	}
	if _, err := os.Stat(c.dataDir); err == nil {
		c.t.Errorf("data dir %s left after reset", c.dataDir)
	}
}

func (c *cluster) kubectlPath() string {
	dir, err := testenv.AssetsDir()
	if err != nil {
		return "kubectl"
	}
	return filepath.Join(dir, "kubectl")
}

// kubectl runs kubectl (the given binary) against the cluster.
func (c *cluster) kubectlWith(bin string, timeout time.Duration, args ...string) (string, error) {
	c.t.Helper()
	return run(c.t, timeout, bin, append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
}

// shell runs script in a fresh busybox pod as a user at its prompt would:
// `kubectl run -i --rm --restart=Never -- sh` with the script typed on
// stdin, so every command runs after kubectl has attached.
func (c *cluster) shell(name, script string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.kubectlPath(), "--kubeconfig", c.kubeconfig, "run", "-i", "--rm", name,
		"--image=busybox", "--restart=Never", "--", "sh")
	cmd.Stdin = strings.NewReader(script + "\nexit\n")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// k runs the v1.37 kubectl and fails the test on error.
func (c *cluster) k(args ...string) string {
	c.t.Helper()
	out, err := c.kubectlWith(c.kubectlPath(), 90*time.Second, args...)
	if err != nil {
		c.t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// eventually retries check every half second until it passes or timeout.
func (c *cluster) eventually(timeout time.Duration, what string, check func() error) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// sample is a manifest of config/samples.
func sample(name string) string {
	return filepath.Join("..", "..", "config", "samples", name)
}

// podsRunning waits until the selector's pods number n, all Running and
// ready, and returns their names.
func (c *cluster) podsRunning(selector string, n int) []string {
	c.t.Helper()
	var names []string
	c.eventually(2*time.Minute, fmt.Sprintf("%d running pods for %s", n, selector), func() error {
		out, err := c.kubectlWith(c.kubectlPath(), 30*time.Second, "get", "pods", "-l", selector, "--no-headers",
			"-o", "custom-columns=NAME:.metadata.name,PHASE:.status.phase,READY:.status.conditions[?(@.type==\"Ready\")].status,DEL:.metadata.deletionTimestamp")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		names = nil
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) < 4 {
				continue
			}
			if f[3] != "<none>" {
				return fmt.Errorf("pod %s is terminating:\n%s", f[0], out)
			}
			if f[1] != "Running" || f[2] != "True" {
				return fmt.Errorf("pod %s is %s, ready %s:\n%s", f[0], f[1], f[2], out)
			}
			names = append(names, f[0])
		}
		if len(names) != n {
			return fmt.Errorf("%d pods, want %d:\n%s", len(names), n, out)
		}
		return nil
	})
	return names
}

// gone waits until nothing matches the selector for the given kinds.
func (c *cluster) gone(kinds, selector string) {
	c.t.Helper()
	c.eventually(2*time.Minute, kinds+" "+selector+" deleted", func() error {
		out, err := c.kubectlWith(c.kubectlPath(), 30*time.Second, "get", kinds, "-l", selector, "--no-headers")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if strings.TrimSpace(out) != "" && !strings.Contains(out, "No resources found") {
			return fmt.Errorf("left:\n%s", out)
		}
		return nil
	})
}
