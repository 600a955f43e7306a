package proxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
)

// The root-only tests run their clients as child processes (this test binary
// re-executed) born into a cgroup2 directory the test creates, so that only
// they, and nothing else on the machine, pass through the programs.
const (
	clientEnv      = "KUBESEED_PROXY_TEST_CLIENT"
	clientNetnsEnv = "KUBESEED_PROXY_TEST_CLIENT_NETNS"
)

func TestMain(m *testing.M) {
	if os.Getenv(prereqEnv) != "" {
		runUnprivileged()
	}
	if mode := os.Getenv(clientEnv); mode != "" {
		os.Exit(runClient(mode, os.Args[len(os.Args)-2], os.Args[len(os.Args)-1]))
	}
	os.Exit(m.Run())
}

// runClient makes n requests to addr and prints one line per request:
// "<reply> <peer address>" or "error <message>".
func runClient(mode, addr string, count string) int {
	n, _ := strconv.Atoi(count)
	if path := os.Getenv(clientNetnsEnv); path != "" {
		// Every socket below is made on this thread, inside the namespace.
		runtime.LockOSThread()
		f, err := os.Open(path)
		if err == nil {
			err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		}
		if err != nil {
			fmt.Println("error entering netns:", err)
			return 1
		}
	}
	switch mode {
	case "tcp":
		for range n {
			fmt.Println(tcpRequest("tcp4", addr))
		}
	case "tcp6": // a dual-stack socket to an IPv4-mapped address
		for range n {
			fmt.Println(tcp6Request(addr))
		}
	case "udp-one-socket":
		c, err := net.ListenUDP("udp4", nil)
		if err != nil {
			fmt.Println("error", err)
			return 1
		}
		for range n {
			fmt.Println(udpRequest(c, addr))
		}
	case "udp":
		for range n {
			c, err := net.ListenUDP("udp4", nil)
			if err != nil {
				fmt.Println("error", err)
				return 1
			}
			fmt.Println(udpRequest(c, addr))
			c.Close()
		}
	case "udp6":
		for range n {
			c, err := net.ListenUDP("udp", nil) // dual-stack, unlike "udp6"
			if err != nil {
				fmt.Println("error", err)
				return 1
			}
			ap := netip.MustParseAddrPort(addr)
			fmt.Println(udpRequest(c, netip.AddrPortFrom(netip.AddrFrom16(ap.Addr().As16()), ap.Port()).String()))
			c.Close()
		}
	case "dns-udp", "dns-tcp": // ask addr for echo.default.svc.cluster.local
		fmt.Println(dnsRequest(strings.TrimPrefix(mode, "dns-"), addr))
	case "latency": // mean connect+request+reply time over n connections
		start := time.Now()
		for range n {
			if r := tcpRequest("tcp4", addr); strings.HasPrefix(r, "error") {
				fmt.Println(r)
				return 1
			}
		}
		fmt.Println(time.Since(start).Nanoseconds() / int64(n))
	default:
		fmt.Println("error unknown mode", mode)
		return 2
	}
	return 0
}

func tcpRequest(network, addr string) string {
	c, err := net.DialTimeout(network, addr, 2*time.Second)
	if err != nil {
		return "error " + err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	n, err := c.Read(buf)
	if err != nil {
		return "error " + err.Error()
	}
	return string(buf[:n]) + " " + c.RemoteAddr().String()
}

// tcp6Request connects an AF_INET6 socket to ::ffff:addr, as a dual-stack
// program (Go's net package would pick AF_INET for an IPv4 address).
func tcp6Request(addr string) string {
	ap := netip.MustParseAddrPort(addr)
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return "error " + err.Error()
	}
	defer unix.Close(fd)
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 2})
	if err := unix.Connect(fd, &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}); err != nil {
		return "error " + err.Error()
	}
	buf := make([]byte, 64)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return "error " + err.Error()
	}
	peer, err := unix.Getpeername(fd)
	if err != nil {
		return "error " + err.Error()
	}
	p := peer.(*unix.SockaddrInet6)
	return string(buf[:n]) + " " + netip.AddrPortFrom(netip.AddrFrom16(p.Addr).Unmap(), uint16(p.Port)).String()
}

func udpRequest(c *net.UDPConn, addr string) string {
	to, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return "error " + err.Error()
	}
	if _, err := c.WriteTo([]byte("ping"), to); err != nil {
		return "error " + err.Error()
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	n, from, err := c.ReadFromUDPAddrPort(buf)
	if err != nil {
		return "error " + err.Error()
	}
	return string(buf[:n]) + " " + netip.AddrPortFrom(from.Addr().Unmap(), from.Port()).String()
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: loads BPF programs and creates cgroups")
	}
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// testBPFFS mounts a private bpf filesystem for the test's pins, so tests
// never touch /sys/fs/bpf.
func testBPFFS(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("bpf", dir, "bpf", 0, "mode=0700"); err != nil {
		t.Fatalf("mounting bpffs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting bpffs: %v", err)
		}
	})
	return filepath.Join(dir, "kubeseed")
}

// testCgroup creates an empty child cgroup2 directory for the test's clients.
func testCgroup(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(DefaultCgroupPath, "kubeseed-proxy-test-"+randomSuffix())
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatalf("creating test cgroup: %v", err)
	}
	t.Cleanup(func() {
		// Clients have exited by now; the kernel may take a moment to let go.
		var err error
		for range 50 {
			if err = os.Remove(dir); err == nil || os.IsNotExist(err) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("removing test cgroup: %v", err)
	})
	return dir
}

// request runs one client process inside cgroup and returns its output lines.
func request(t testing.TB, cgroup, mode, addr string, n int) []string {
	t.Helper()
	return requestFrom(t, cgroup, "", mode, addr, n)
}

// requestFrom runs a client in cgroup (none: "") from the network namespace
// at netnsPath (the test's own: "").
func requestFrom(t testing.TB, cgroup, netnsPath, mode, addr string, n int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$", mode, addr, strconv.Itoa(n))
	cmd.Env = append(os.Environ(), clientEnv+"="+mode, clientNetnsEnv+"="+netnsPath)
	if cgroup != "" {
		f, err := os.Open(cgroup)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}
	}
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("client %s %s: %v: %s%s", mode, addr, err, out, ee.Stderr)
		}
		t.Fatalf("client %s %s: %v", mode, addr, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// backends starts a TCP and a UDP server on each address that answer with
// their own name, and returns the port they share.
func backends(t testing.TB, ips ...string) uint16 {
	t.Helper()
	return backendsIn(t, "", ips...)
}

// backendsIn is backends with the servers' sockets in the network namespace
// at netnsPath ("" for the test's own).
func backendsIn(t testing.TB, netnsPath string, ips ...string) uint16 {
	t.Helper()
	if netnsPath != "" {
		restore := enterNetns(t, netnsPath)
		defer restore()
	}
	for attempt := 0; ; attempt++ {
		port := uint16(20000 + int(randUint16()%20000))
		var closers []func()
		ok := true
		for _, ip := range ips {
			addr := net.JoinHostPort(ip, strconv.Itoa(int(port)))
			l, err := net.Listen("tcp4", addr)
			if err != nil {
				ok = false
				break
			}
			closers = append(closers, func() { l.Close() })
			u, err := net.ListenPacket("udp4", addr)
			if err != nil {
				ok = false
				break
			}
			closers = append(closers, func() { u.Close() })
			name := ip
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					_, _ = c.Write([]byte(name))
					c.Close()
				}
			}()
			go func() {
				buf := make([]byte, 64)
				for {
					_, from, err := u.ReadFrom(buf)
					if err != nil {
						return
					}
					_, _ = u.WriteTo([]byte(name), from)
				}
			}()
		}
		if ok {
			t.Cleanup(func() {
				for _, c := range closers {
					c()
				}
			})
			return port
		}
		for _, c := range closers {
			c()
		}
		if attempt > 20 {
			t.Fatal("no free port for backends")
		}
	}
}

func randUint16() uint16 {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return uint16(b[0])<<8 | uint16(b[1])
}

// tally counts replies per backend and checks each line came from peer.
func tally(t *testing.T, lines []string, peer string) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 2 || f[0] == "error" {
			t.Fatalf("request failed: %q", l)
		}
		if f[1] != peer {
			t.Errorf("reply appears to come from %s, want the service address %s", f[1], peer)
		}
		got[f[0]]++
	}
	return got
}

// enterNetns moves the calling goroutine's thread into a network namespace;
// sockets created before restore is called belong to it for their lifetime.
func enterNetns(t testing.TB, path string) (restore func()) {
	t.Helper()
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	target, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		t.Fatalf("entering %s: %v", path, err)
	}
	return func() {
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			panic(fmt.Sprintf("returning to the test's network namespace: %v", err))
		}
		self.Close()
		runtime.UnlockOSThread()
	}
}

// testNetns creates a network namespace joined to the host by a veth pair,
// the host side 10.126.N.1/24 and the namespace side holding the given host
// numbers (10.126.N.h). It returns the namespace path and the addresses. The
// namespace and both veth ends are removed at cleanup.
func testNetns(t *testing.T, hosts ...int) (string, []string) {
	t.Helper()
	suffix := randomSuffix()
	name, veth := "kubeseed-proxy-"+suffix, "ksp"+suffix
	subnet := fmt.Sprintf("10.126.%d", randUint16()%256)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("removing netns: %v: %s", err, out)
		}
	})
	ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name)
	ip("addr", "add", subnet+".1/24", "dev", veth)
	ip("link", "set", veth, "up")
	var addrs []string
	for _, h := range hosts {
		a := fmt.Sprintf("%s.%d", subnet, h)
		ip("-n", name, "addr", "add", a+"/24", "dev", "eth0")
		addrs = append(addrs, a)
	}
	ip("-n", name, "link", "set", "eth0", "up")
	ip("-n", name, "link", "set", "lo", "up")
	return "/run/netns/" + name, addrs
}

// dnsRequest resolves echo.default.svc.cluster.local at addr and prints the
// answer and where it came from.
func dnsRequest(network, addr string) string {
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	conn, err := c.Dial(addr)
	if err != nil {
		return "error " + err.Error()
	}
	defer conn.Close()
	m := new(dns.Msg)
	m.SetQuestion("echo.default.svc.cluster.local.", dns.TypeA)
	resp, _, err := c.ExchangeWithConn(m, conn)
	if err != nil {
		return "error " + err.Error()
	}
	if len(resp.Answer) != 1 {
		return fmt.Sprintf("error answer %v", resp.Answer)
	}
	a := strings.Fields(resp.Answer[0].String())
	return fmt.Sprintf("%s %s %s from %s", a[0], a[3], a[4], conn.RemoteAddr())
}
