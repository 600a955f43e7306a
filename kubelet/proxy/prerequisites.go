package proxy

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Capabilities the proxy needs: loading programs and creating maps (CAP_BPF;
// CAP_SYS_ADMIN also grants it), attaching to cgroups and changing routes
// (CAP_NET_ADMIN).
const (
	capNetAdmin = 12
	capSysAdmin = 21
	capBPF      = 39
)

// CheckPrerequisites returns a one-line error naming what the proxy lacks:
// capabilities, or a cgroup2 mount at cgroupPath.
func CheckPrerequisites(cgroupPath string) error {
	if missing := missingCapabilities(); len(missing) > 0 {
		return fmt.Errorf("service proxy needs capabilities it lacks: %s (run the node agent as root)", strings.Join(missing, ", "))
	}
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupPath, &st); err != nil {
		return fmt.Errorf("service proxy needs cgroup2: %s: %w", cgroupPath, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return fmt.Errorf("service proxy needs cgroup2: %s is not a cgroup2 mount (mount -t cgroup2 none %s)", cgroupPath, cgroupPath)
	}
	return nil
}

func effectiveCapabilities() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, err
	}
	return uint64(data[0].Effective) | uint64(data[1].Effective)<<32, nil
}

func missingCapabilities() []string {
	eff, err := effectiveCapabilities()
	if err != nil {
		return nil // cannot tell: let the kernel answer
	}
	has := func(c uint) bool { return eff&(1<<c) != 0 }
	var missing []string
	if !has(capBPF) && !has(capSysAdmin) {
		missing = append(missing, "CAP_BPF")
	}
	if !has(capNetAdmin) {
		missing = append(missing, "CAP_NET_ADMIN")
	}
	return missing
}

// explainPermission replaces cilium/ebpf's misleading MEMLOCK hint on EPERM
// with the capability that is actually missing.
func explainPermission(err error) error {
	if err == nil || !errors.Is(err, unix.EPERM) {
		return err
	}
	if missing := missingCapabilities(); len(missing) > 0 {
		return fmt.Errorf("service proxy needs capabilities it lacks: %s", strings.Join(missing, ", "))
	}
	return err
}

func isBPFFS(path string) bool {
	var st unix.Statfs_t
	return unix.Statfs(path, &st) == nil && st.Type == unix.BPF_FS_MAGIC
}

func mountBPFFS(path string) error {
	return unix.Mount("bpf", path, "bpf", 0, "mode=0700")
}
