package bpf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// hooks pairs each program with the cgroup hook it serves.
func (o *LbObjects) hooks() []struct {
	name string
	prog *ebpf.Program
	at   ebpf.AttachType
} {
	p := &o.LbPrograms
	return []struct {
		name string
		prog *ebpf.Program
		at   ebpf.AttachType
	}{
		{"connect4", p.KubeseedConnect4, ebpf.AttachCGroupInet4Connect},
		{"sendmsg4", p.KubeseedSendmsg4, ebpf.AttachCGroupUDP4Sendmsg},
		{"recvmsg4", p.KubeseedRecvmsg4, ebpf.AttachCGroupUDP4Recvmsg},
		{"getpeername4", p.KubeseedGetpeername4, ebpf.AttachCgroupInet4GetPeername},
		{"connect6", p.KubeseedConnect6, ebpf.AttachCGroupInet6Connect},
		{"sendmsg6", p.KubeseedSendmsg6, ebpf.AttachCGroupUDP6Sendmsg},
		{"recvmsg6", p.KubeseedRecvmsg6, ebpf.AttachCGroupUDP6Recvmsg},
		{"getpeername6", p.KubeseedGetpeername6, ebpf.AttachCgroupInet6GetPeername},
	}
}

// Datapath is the loaded programs and maps, pinned under one directory on a
// bpf filesystem so that they outlive the process: service routing keeps
// working while the node agent restarts, and the next agent adopts them.
type Datapath struct {
	LbObjects
	pinDir      string
	serviceCIDR netip.Prefix
	links       []link.Link
}

// Load loads the programs and opens the maps pinned in pinDir, creating and
// pinning the maps that are missing. Maps whose layout changed (an upgrade)
// are replaced, which drops their contents; the syncer then rewrites them.
// The caller's network namespace is taken as the node's. Connections to
// serviceCIDR addresses that are no frontend are refused (an invalid prefix:
// left alone).
func Load(pinDir string, serviceCIDR netip.Prefix) (*Datapath, error) {
	if err := os.MkdirAll(pinDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating pin directory: %w", err)
	}
	d := &Datapath{pinDir: pinDir, serviceCIDR: serviceCIDR}
	err := d.load()
	if errors.Is(err, ebpf.ErrMapIncompatible) {
		for _, name := range mapNames() {
			if err := os.Remove(filepath.Join(pinDir, name)); err != nil && !os.IsNotExist(err) {
				return nil, fmt.Errorf("replacing incompatible pinned map: %w", err)
			}
		}
		err = d.load()
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (d *Datapath) load() error {
	spec, err := LoadLb()
	if err != nil {
		return err
	}
	for _, name := range mapNames() {
		spec.Maps[name].Pinning = ebpf.PinByName
	}
	cookie, err := netnsCookie()
	if err != nil {
		return err
	}
	if err := spec.Variables["host_netns_cookie"].Set(cookie); err != nil {
		return fmt.Errorf("setting the host network namespace cookie: %w", err)
	}
	if p := d.serviceCIDR; p.IsValid() && p.Addr().Is4() {
		p = p.Masked()
		mask := net.CIDRMask(p.Bits(), 32)
		a := p.Addr().As4()
		// The program compares raw network-order words: pass the bytes as
		// they lie in memory.
		if err := spec.Variables["service_net"].Set(binary.NativeEndian.Uint32(a[:])); err != nil {
			return fmt.Errorf("setting the service CIDR: %w", err)
		}
		if err := spec.Variables["service_mask"].Set(binary.NativeEndian.Uint32(mask)); err != nil {
			return fmt.Errorf("setting the service CIDR: %w", err)
		}
	}
	opts := &ebpf.CollectionOptions{Maps: ebpf.MapOptions{PinPath: d.pinDir}}
	if err := spec.LoadAndAssign(&d.LbObjects, opts); err != nil {
		return fmt.Errorf("loading service proxy programs: %w", err)
	}
	return nil
}

func mapNames() []string {
	return []string{LbMapKubeseedServices, LbMapKubeseedBackends, LbMapKubeseedRevnat, LbMapKubeseedAffinity, LbMapKubeseedFlows}
}

// Attach attaches every program to the cgroup2 directory cgroupPath through
// links pinned in the pin directory. A link pinned by an earlier process is
// adopted and switched to the newly loaded program atomically, so sockets never
// see a moment without translation.
func (d *Datapath) Attach(cgroupPath string) error {
	for _, h := range d.hooks() {
		path := filepath.Join(d.pinDir, "link_"+h.name)
		if l, err := link.LoadPinnedLink(path, nil); err == nil {
			if err := l.Update(h.prog); err != nil {
				l.Close()
				return fmt.Errorf("updating pinned %s link: %w", h.name, err)
			}
			d.links = append(d.links, l)
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("opening pinned %s link: %w", h.name, err)
		}
		l, err := link.AttachCgroup(link.CgroupOptions{Path: cgroupPath, Attach: h.at, Program: h.prog})
		if err != nil {
			return fmt.Errorf("attaching %s to %s: %w", h.name, cgroupPath, err)
		}
		if err := l.Pin(path); err != nil {
			l.Close()
			return fmt.Errorf("pinning %s link: %w", h.name, err)
		}
		d.links = append(d.links, l)
	}
	return nil
}

// Close releases the process's handles. Pinned maps and links stay, and with
// them the routing.
func (d *Datapath) Close() error {
	var errs []error
	for _, l := range d.links {
		errs = append(errs, l.Close())
	}
	d.links = nil
	errs = append(errs, d.LbObjects.Close())
	return errors.Join(errs...)
}

// Unpin removes the pins in pinDir, and with them (once no process holds them)
// the programs' attachment and the maps. A missing directory is not an error.
func Unpin(pinDir string) error {
	entries, err := os.ReadDir(pinDir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading pin directory: %w", err)
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.Remove(filepath.Join(pinDir, e.Name())))
	}
	errs = append(errs, os.Remove(pinDir))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("removing pins in %s: %w", pinDir, err)
	}
	return nil
}

// netnsCookie returns the cookie of the caller's network namespace, the value
// bpf_get_netns_cookie returns for its sockets.
func netnsCookie() (uint64, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("reading the network namespace cookie: %w", err)
	}
	defer unix.Close(fd)
	var cookie uint64
	size := uint32(unsafe.Sizeof(cookie))
	if _, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_NETNS_COOKIE,
		uintptr(unsafe.Pointer(&cookie)), uintptr(unsafe.Pointer(&size)), 0); errno != 0 {
		return 0, fmt.Errorf("reading the network namespace cookie: %w", errno)
	}
	return cookie, nil
}
