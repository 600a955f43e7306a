package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	clusterdns "github.com/kubeseed/kubeseed/kubelet/dns"
	"github.com/kubeseed/kubeseed/test/testenv"
)

const testServiceCIDR = "10.127.0.0/16"

// startAPIServer starts upstream kube-apiserver with the test's service CIDR.
func startAPIServer(t *testing.T) kubernetes.Interface {
	t.Helper()
	env, err := testenv.Upstream()
	if err != nil {
		t.Fatal(err)
	}
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", testServiceCIDR)
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	return kubernetes.NewForConfigOrDie(cfg)
}

func endpointSlice(name, service string, portName string, port int32, proto corev1.Protocol, ready bool, ips ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To(port), Protocol: ptr.To(proto)}},
	}
	for _, ip := range ips {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)},
			NodeName:   ptr.To("node-a"),
		})
	}
	return s
}

// eventually retries check until it returns nil or 10 s pass.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestProxy runs the Proxy against upstream kube-apiserver: Services and
// EndpointSlices written through the API route real connections from the
// test cgroup, changes apply, and a restarted Proxy keeps routing.
func TestProxy(t *testing.T) {
	requireRoot(t)
	client := startAPIServer(t)
	pin := testBPFFS(t)
	cg := testCgroup(t)
	cfg := Config{Client: client, NodeName: "node-a", ServiceCIDR: testServiceCIDR, CgroupPath: cg, PinPath: pin}
	t.Cleanup(func() {
		if err := Cleanup(pin); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	ctx := context.Background()
	// Endpoint addresses may not be loopback: the backends live in a
	// network namespace of their own, as pods do.
	ns, ips := testNetns(t, 2, 3, 4, 5)
	webPort := backendsIn(t, ns, ips[0], ips[1])
	altPort := backendsIn(t, ns, ips[2])
	b2, b3, b4, b5 := ips[0], ips[1], ips[2], ips[3]
	hostIP := b2[:strings.LastIndex(b2, ".")] + ".1" // the host side of the veth pair
	cfg.NodeIPs = []netip.Addr{netip.MustParseAddr(hostIP)}
	// The node's DNS listener, where kube-dns leads on this node.
	// The node's cluster DNS listens on the node's address; the kube-dns
	// Service leads there.
	dnsServer, err := clusterdns.New(clusterdns.Config{Client: client, ListenAddr: hostIP + ":0", Upstreams: []string{"127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	dnsCtx, stopDNS := context.WithCancel(ctx)
	dnsDone := make(chan error, 1)
	go func() { dnsDone <- dnsServer.Run(dnsCtx) }()
	t.Cleanup(func() {
		stopDNS()
		if err := <-dnsDone; err != nil {
			t.Errorf("DNS server: %v", err)
		}
	})
	select {
	case <-dnsServer.Ready():
	case err := <-dnsDone:
		t.Fatalf("DNS server: %v", err)
	}
	cfg.NodeLocalDNS = netip.MustParseAddrPort(dnsServer.Addr())

	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "echo"},
		Spec: corev1.ServiceSpec{
			ClusterIP: "10.127.0.50",
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("web")},
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromString("web")},
			},
		},
	}
	if _, err := client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*discoveryv1.EndpointSlice{
		// The named target port resolves to a different number per slice.
		endpointSlice("echo-a", "echo", "http", int32(webPort), corev1.ProtocolTCP, true, b2, b3),
		endpointSlice("echo-b", "echo", "http", int32(altPort), corev1.ProtocolTCP, true, b4),
		endpointSlice("echo-c", "echo", "http", int32(webPort), corev1.ProtocolTCP, false, b5),
		endpointSlice("echo-udp", "echo", "dns", int32(webPort), corev1.ProtocolUDP, true, b2),
	} {
		if _, err := client.DiscoveryV1().EndpointSlices("default").Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	kubeDNS := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-dns"},
		Spec: corev1.ServiceSpec{
			ClusterIP: "10.127.0.10",
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP},
			},
		},
	}
	if _, err := client.CoreV1().Services("kube-system").Create(ctx, kubeDNS, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	nodePort := int32(31000 + int(randUint16()%700))
	np := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "np"},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeNodePort,
			ClusterIP: "10.127.0.60",
			Ports: []corev1.ServicePort{
				{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, NodePort: nodePort},
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, NodePort: nodePort + 1},
			},
		},
	}
	if _, err := client.CoreV1().Services("default").Create(ctx, np, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DiscoveryV1().EndpointSlices("default").Create(ctx,
		endpointSlice("np-a", "np", "http", int32(webPort), corev1.ProtocolTCP, true, b2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DiscoveryV1().EndpointSlices("default").Create(ctx,
		endpointSlice("np-udp", "np", "dns", int32(webPort), corev1.ProtocolUDP, true, b2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	run := func() (context.CancelFunc, chan error) {
		p, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(rctx) }()
		select {
		case <-p.Ready():
		case err := <-done:
			t.Fatalf("proxy stopped: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatal("proxy not ready after 30 s")
		}
		return cancel, done
	}
	cancel, done := run()

	if route, err := exec.Command("ip", "route", "show", testServiceCIDR).Output(); err != nil || !strings.Contains(string(route), "blackhole") {
		t.Errorf("no blackhole route for the service CIDR: %q %v", route, err)
	}
	got := tally(t, request(t, cg, "tcp", "10.127.0.50:80", 40), "10.127.0.50:80")
	if got[b5] > 0 || len(got) != 3 {
		t.Errorf("connections reached %v: want the three ready endpoints across both slices", got)
	}
	if got := tally(t, request(t, cg, "udp", "10.127.0.50:53", 5), "10.127.0.50:53"); got[b2] != 5 {
		t.Errorf("UDP reached %v, want %s", got, b2)
	}

	// A pod's resolver asks the kube-dns Service address and gets its answer
	// from the node's DNS server, from the Service address.
	for _, mode := range []string{"dns-udp", "dns-tcp"} {
		got := request(t, cg, mode, "10.127.0.10:53", 1)[0]
		if want := "echo.default.svc.cluster.local. A 10.127.0.50 from 10.127.0.10:53"; got != want {
			t.Errorf("%s: got %q, want %q", mode, got, want)
		}
	}

	// The three names the seeds use resolve from a pod through glibc's
	// resolver, with the resolv.conf a pod gets (`ip netns exec` mounts it).
	etc := filepath.Join("/etc/netns", filepath.Base(ns))
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(etc)
		os.Remove(filepath.Dir(etc)) // only when no one else uses it
	})
	conf := clusterdns.PodResolvConf("default", "cluster.local", []string{"10.127.0.10"}, nil)
	if err := os.WriteFile(filepath.Join(etc, "resolv.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"echo", "echo.default", "echo.default.svc.cluster.local"} {
		out, err := inCgroup(t, cg, "ip", "netns", "exec", filepath.Base(ns), "getent", "ahostsv4", name)
		if err != nil || !strings.HasPrefix(out, "10.127.0.50 ") {
			t.Errorf("getent ahostsv4 %s in a pod: %q %v", name, out, err)
		}
	}

	// NodePort: from the node at 127.0.0.1 and at its address (through the
	// programs), and from another network namespace (through the listener).
	for _, addr := range []string{"127.0.0.1", hostIP} {
		front := net.JoinHostPort(addr, strconv.Itoa(int(nodePort)))
		if got := tally(t, request(t, cg, "tcp", front, 3), front); got[b2] != 3 {
			t.Errorf("NodePort %s from the node reached %v, want %s", front, got, b2)
		}
	}
	// Inside a pod, 127.0.0.1 is the pod itself: no NodePort there.
	local := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(nodePort)))
	if l := requestFrom(t, cg, ns, "tcp", local, 1)[0]; !strings.Contains(l, "connection refused") {
		t.Errorf("127.0.0.1:<nodePort> inside a pod's netns: got %q, want the pod's own closed port", l)
	}
	front := net.JoinHostPort(hostIP, strconv.Itoa(int(nodePort)))
	if got := tally(t, requestFrom(t, "", ns, "tcp", front, 3), front); got[b2] != 3 {
		t.Errorf("NodePort %s from another netns reached %v, want %s", front, got, b2)
	}
	udpFront := net.JoinHostPort(hostIP, strconv.Itoa(int(nodePort+1)))
	if got := tally(t, requestFrom(t, "", ns, "udp", udpFront, 3), udpFront); got[b2] != 3 {
		t.Errorf("UDP NodePort %s from another netns reached %v, want %s", udpFront, got, b2)
	}
	if got := tally(t, request(t, cg, "udp", udpFront, 3), udpFront); got[b2] != 3 {
		t.Errorf("UDP NodePort %s from the node reached %v, want %s", udpFront, got, b2)
	}

	// A pod of this node with a host port answers at the node's addresses,
	// as upstream's portmap plugin maps it; no Service is involved.
	hostPort := int32(20000 + int(randUint16()%5000))
	hp := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ingress"},
		Spec: corev1.PodSpec{NodeName: "node-a", Containers: []corev1.Container{{Name: "c", Image: "busybox",
			Ports: []corev1.ContainerPort{{ContainerPort: int32(webPort), HostPort: hostPort}}}}},
	}
	if hp, err = client.CoreV1().Pods("default").Create(ctx, hp, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hp.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: b3, PodIPs: []corev1.PodIP{{IP: b3}}}
	if _, err := client.CoreV1().Pods("default").UpdateStatus(ctx, hp, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "host port mapped", func() error {
		for _, addr := range []string{"127.0.0.1", hostIP} {
			front := net.JoinHostPort(addr, strconv.Itoa(int(hostPort)))
			if got := tally(t, request(t, cg, "tcp", front, 2), front); got[b3] != 2 {
				return fmt.Errorf("host port %s from the node reached %v, want %s", front, got, b3)
			}
		}
		return nil
	})
	hpFront := net.JoinHostPort(hostIP, strconv.Itoa(int(hostPort)))
	if got := tally(t, requestFrom(t, "", ns, "tcp", hpFront, 2), hpFront); got[b3] != 2 {
		t.Errorf("host port %s from another netns reached %v, want %s", hpFront, got, b3)
	}
	if err := client.CoreV1().Pods("default").Delete(ctx, "ingress", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "host port unmapped with its pod", func() error {
		front := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(hostPort)))
		if l := request(t, cg, "tcp", front, 1)[0]; !strings.Contains(l, "connection refused") {
			return fmt.Errorf("after the pod's deletion %s: %s", front, l)
		}
		return nil
	})

	// Endpoints going away apply without a restart.
	if err := client.DiscoveryV1().EndpointSlices("default").Delete(ctx, "echo-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "after deleting a slice", func() error {
		got := tally(t, request(t, cg, "tcp", "10.127.0.50:80", 10), "10.127.0.50:80")
		if got[b4] != 10 {
			return errors.New("connections still reach removed endpoints")
		}
		return nil
	})

	// A Service without endpoints refuses at once.
	empty := svc.DeepCopy()
	empty.Name, empty.Spec.ClusterIP, empty.ResourceVersion = "empty", "10.127.0.51", ""
	if _, err := client.CoreV1().Services("default").Create(ctx, empty, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "service without endpoints", func() error {
		if l := request(t, cg, "tcp", "10.127.0.51:80", 1)[0]; !strings.Contains(l, "connection refused") {
			return errors.New(l)
		}
		return nil
	})

	// The agent stops: routing stays; a new agent adopts the pins.
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("proxy Run: %v", err)
	}
	tally(t, request(t, cg, "tcp", "10.127.0.50:80", 3), "10.127.0.50:80")
	cancel, done = run()
	if got := tally(t, request(t, cg, "tcp", "10.127.0.50:80", 5), "10.127.0.50:80"); got[b4] != 5 {
		t.Errorf("after restart connections reached %v", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("proxy Run: %v", err)
	}

	// With CleanupOnExit the agent removes the route, the pins and with them
	// the programs when it stops (through Cleanup).
	cfg.CleanupOnExit = true
	cancel, done = run()
	tally(t, request(t, cg, "tcp", "10.127.0.50:80", 1), "10.127.0.50:80")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("proxy Run: %v", err)
	}
	if route, _ := exec.Command("ip", "route", "show", testServiceCIDR).Output(); len(route) > 0 {
		t.Errorf("route left after Cleanup: %s", route)
	}
	if _, err := os.Stat(pin); !os.IsNotExist(err) {
		t.Errorf("pin directory left after Cleanup: %v", err)
	}
	if l := request(t, cg, "tcp", "10.127.0.50:80", 1)[0]; !strings.HasPrefix(l, "error") {
		t.Errorf("service still routed after Cleanup: %q", l)
	}
}

// inCgroup runs a command inside cgroup and returns its output.
func inCgroup(t *testing.T, cgroup string, name string, args ...string) (string, error) {
	t.Helper()
	f, err := os.Open(cgroup)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(f.Fd())}
	out, err := cmd.CombinedOutput()
	return string(out), err
}
