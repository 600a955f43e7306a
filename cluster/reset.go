package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kubeseed/kubeseed/kubelet/proxy"
)

// Reset removes everything a stopped `kubeseed up` with cfg left on the
// host: the pods' containers and their containerd, mounts under the data
// dir, the pod bridge, the pods' cgroups, the service proxy's BPF programs,
// pins and route, the host's IPv4 forwarding as it was before the first
// `kubeseed up`, and finally the data dir itself. It refuses while the
// cluster's API server port still answers, so a running cluster is never
// pulled from under itself.
func Reset(cfg Config) error {
	if cfg.DataDir == "" {
		return errors.New("reset: no data dir")
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	if cfg.SecurePort == 0 {
		cfg.SecurePort = 6443
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.SecurePort)), time.Second); err == nil {
		c.Close()
		if _, err := os.Stat(filepath.Join(dataDir, "admin.kubeconfig")); err == nil {
			return fmt.Errorf("reset: something answers on 127.0.0.1:%d: stop kubeseed up first", cfg.SecurePort)
		}
	}
	if cfg.BridgeName == "" {
		cfg.BridgeName = "kubeseed0"
	}
	if cfg.CgroupParent == "" {
		cfg.CgroupParent = "/kubeseed"
	}
	if cfg.BPFPinPath == "" {
		cfg.BPFPinPath = proxy.DefaultPinPath
	}
	var errs []error
	killProcesses(dataDir, cfg.CgroupParent)
	errs = append(errs, unmountUnder(dataDir))
	if link, err := net.InterfaceByName(cfg.BridgeName); err == nil && link != nil {
		if out, err := runIP("link", "del", cfg.BridgeName); err != nil {
			errs = append(errs, fmt.Errorf("deleting bridge %s: %v: %s", cfg.BridgeName, err, out))
		}
	}
	errs = append(errs, removeCgroups(cfg.CgroupParent))
	if err := proxy.Cleanup(cfg.BPFPinPath); err != nil {
		errs = append(errs, fmt.Errorf("removing the service proxy: %w", err))
	}
	if err := restoreForwarding(dataDir); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(dataDir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// killProcesses kills what runs for the cluster: processes whose command
// line names the data dir (containerd and its shims) and those in the pods'
// cgroups. The shims go first so none restarts a container.
func killProcesses(dataDir, cgroupParent string) {
	entries, _ := os.ReadDir("/proc")
	self := os.Getpid()
	for round := 0; round < 2; round++ {
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == self {
				continue
			}
			cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			cg, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
			if bytes.Contains(cmdline, []byte(dataDir)) || inCgroup(cg, cgroupParent) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(200 * time.Millisecond)
		entries, _ = os.ReadDir("/proc")
	}
}

func inCgroup(procCgroup []byte, parent string) bool {
	for _, line := range strings.Split(string(procCgroup), "\n") {
		// hierarchy-id:controllers:path
		if f := strings.SplitN(line, ":", 3); len(f) == 3 && (f[2] == parent || strings.HasPrefix(f[2], parent+"/")) {
			return true
		}
	}
	return false
}

// unmountUnder detaches every mount below dir, deepest first (container
// root filesystems, pinned network namespaces, volumes).
func unmountUnder(dir string) error {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return err
	}
	var targets []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 1 && (f[1] == dir || strings.HasPrefix(f[1], dir+"/")) {
			targets = append(targets, f[1])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(targets)))
	var errs []error
	for _, t := range targets {
		if err := unix.Unmount(t, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", t, err))
		}
	}
	return errors.Join(errs...)
}

// removeCgroups removes the pods' cgroup directories in every hierarchy,
// deepest first (a cgroup directory is removed with rmdir once empty).
func removeCgroups(parent string) error {
	var dirs []string
	for _, root := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/*"} {
		matches, _ := filepath.Glob(root + parent)
		for _, m := range matches {
			_ = filepath.WalkDir(m, func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, p)
				}
				return nil
			})
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return len(dirs[i]) > len(dirs[j]) })
	var errs []error
	for _, d := range dirs {
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("removing cgroup %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

func runIP(args ...string) (string, error) {
	out, err := exec.Command("ip", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}
