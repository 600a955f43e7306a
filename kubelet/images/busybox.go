package images

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
)

// BusyboxName is the reference the busybox image is imported under, so that
// manifests saying `image: busybox` find it.
const BusyboxName = "docker.io/library/busybox:latest"

// DefaultBusyboxPath is where Debian's busybox-static installs its binary.
const DefaultBusyboxPath = "/bin/busybox"

// Busybox describes a busybox image made from a static busybox binary on the
// host: the binary, a symlink per applet (from `busybox --list-full`), and
// the few files a container expects (/etc/passwd, /etc/group, /tmp).
func Busybox(binary string) (Image, error) {
	if binary == "" {
		binary = DefaultBusyboxPath
	}
	out, err := exec.Command(binary, "--list-full").Output()
	if err != nil {
		return Image{}, fmt.Errorf("listing applets of %s (is busybox-static installed?): %w", binary, err)
	}
	if isDynamic(binary) {
		return Image{}, fmt.Errorf("%s is dynamically linked: install busybox-static", binary)
	}
	files := []File{
		{Path: "bin", Dir: true}, {Path: "sbin", Dir: true}, {Path: "usr", Dir: true},
		{Path: "usr/bin", Dir: true}, {Path: "usr/sbin", Dir: true}, {Path: "etc", Dir: true},
		{Path: "root", Dir: true, Mode: 0o700}, {Path: "tmp", Dir: true, Mode: 0o1777 | os.ModeSticky},
		{Path: "var", Dir: true}, {Path: "var/www", Dir: true}, {Path: "home", Dir: true},
		{Path: "bin/busybox", HostPath: binary, Mode: 0o755},
		{Path: "etc/passwd", Content: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")},
		{Path: "etc/group", Content: []byte("root:x:0:\nnogroup:x:65534:\n")},
	}
	seen := map[string]bool{"bin/busybox": true}
	for _, line := range strings.Split(string(out), "\n") {
		p := strings.TrimPrefix(strings.TrimSpace(line), "/")
		if p == "" || seen[p] {
			continue
		}
		seen[p] = true
		// Relative targets keep the image independent of where it is unpacked.
		target, err := relativeTarget(path.Dir(p), "bin/busybox")
		if err != nil {
			return Image{}, err
		}
		files = append(files, File{Path: p, Link: target})
	}
	return Image{Name: BusyboxName, Files: files, Cmd: []string{"sh"}}, nil
}

// isDynamic reports whether an ELF binary asks for a program interpreter,
// which a scratch image does not have.
func isDynamic(binary string) bool {
	b, err := os.ReadFile(binary)
	if err != nil {
		return false
	}
	return bytes.Contains(b[:min(len(b), 4096)], []byte("/lib64/ld-linux"))
}

func relativeTarget(fromDir, to string) (string, error) {
	depth := strings.Count(fromDir, "/") + 1
	if fromDir == "." || fromDir == "" {
		depth = 0
	}
	return strings.Repeat("../", depth) + to, nil
}
