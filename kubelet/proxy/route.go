package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// routeProtocol marks the routes kubeseed installs (rtm_protocol), so that a
// reader of `ip route` can tell them from routes an administrator made.
const routeProtocol = 0x6b // 'k'

// AddBlackholeRoute installs (or replaces) a blackhole route for cidr in the
// main table: traffic to a cluster IP the programs did not translate is
// dropped on the node instead of following the default route off it.
func AddBlackholeRoute(cidr netip.Prefix) error {
	err := blackholeRoute(unix.RTM_NEWROUTE, unix.NLM_F_CREATE|unix.NLM_F_REPLACE, cidr)
	if err != nil {
		return fmt.Errorf("installing blackhole route for the service CIDR %s: %w", cidr, err)
	}
	return nil
}

// DeleteBlackholeRoute removes the route AddBlackholeRoute installed; a missing
// route is not an error.
func DeleteBlackholeRoute(cidr netip.Prefix) error {
	err := blackholeRoute(unix.RTM_DELROUTE, 0, cidr)
	if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("removing blackhole route for %s: %w", cidr, err)
	}
	return nil
}

// blackholeRoute sends one rtnetlink route request and waits for its ack.
func blackholeRoute(msgType uint16, flags uint16, cidr netip.Prefix) error {
	if !cidr.Addr().Is4() {
		return fmt.Errorf("%s is not an IPv4 prefix", cidr)
	}
	cidr = cidr.Masked()
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("opening rtnetlink: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("binding rtnetlink: %w", err)
	}

	addr := cidr.Addr().As4()
	attrLen := unix.SizeofRtAttr + 4
	msgLen := unix.SizeofNlMsghdr + unix.SizeofRtMsg + attrLen
	b := make([]byte, msgLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(msgLen))
	ne.PutUint16(b[4:], msgType)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK|flags)
	ne.PutUint32(b[8:], 1) // sequence
	rt := b[unix.SizeofNlMsghdr:]
	rt[0] = unix.AF_INET
	rt[1] = byte(cidr.Bits())
	rt[4] = unix.RT_TABLE_MAIN
	rt[5] = routeProtocol
	rt[6] = unix.RT_SCOPE_UNIVERSE
	rt[7] = unix.RTN_BLACKHOLE
	at := rt[unix.SizeofRtMsg:]
	ne.PutUint16(at[0:], uint16(attrLen))
	ne.PutUint16(at[2:], unix.RTA_DST)
	copy(at[4:], addr[:])

	if err := unix.Sendto(fd, b, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("sending route request: %w", err)
	}
	buf := make([]byte, 4096)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("reading route reply: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("parsing route reply: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue
			}
			if errno := -int32(ne.Uint32(m.Data[:4])); errno != 0 {
				return unix.Errno(errno)
			}
			return nil
		}
	}
}
