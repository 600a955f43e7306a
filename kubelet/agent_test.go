package kubelet_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	containerdclient "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"

	"github.com/kubeseed/kubeseed/kubelet"
	kubeletcontainerd "github.com/kubeseed/kubeseed/kubelet/runtime/containerd"
	"github.com/kubeseed/kubeseed/kubelet/runtime/simulated"
	"github.com/kubeseed/kubeseed/test/testenv"
)

var (
	restConfig *rest.Config
	client     kubernetes.Interface
	// kubeletClientCA signs the API server's kubelet client certificate.
	kubeletClientCA []byte
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	env, err := testenv.Upstream()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubelet suite:", err)
		return 1
	}
	certDir, err := os.MkdirTemp("", "kubelet-suite-certs")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(certDir)
	caPEM, certFile, keyFile, err := writeClientCert(certDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubelet suite: client certificate:", err)
		return 1
	}
	kubeletClientCA = caPEM
	env.ControlPlane.GetAPIServer().Configure().
		Set("kubelet-client-certificate", certFile).
		Set("kubelet-client-key", keyFile)
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubelet suite: starting envtest:", err)
		return 1
	}
	defer env.Stop()
	restConfig = cfg
	if client, err = kubernetes.NewForConfig(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx := context.Background()
	for _, ns := range []string{"kube-node-lease"} {
		_, _ = client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	}
	forward, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	code := m.Run()
	if len(forward) > 0 {
		// The CNI bridge plugin turns forwarding on; put it back.
		_ = os.WriteFile("/proc/sys/net/ipv4/ip_forward", forward, 0o644)
	}
	return code
}

// agentHandle is one running agent in a test.
type agentHandle struct {
	cfg    kubelet.Config
	cancel context.CancelFunc
	done   chan error
}

func startAgent(t testing.TB, cfg kubelet.Config) *agentHandle {
	t.Helper()
	cfg.RestConfig = restConfig
	if cfg.Resync == 0 {
		cfg.Resync = time.Second
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 2 * time.Second
	}
	a, err := kubelet.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &agentHandle{cfg: cfg, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- a.Run(ctx) }()
	return h
}

func (h *agentHandle) stop(t testing.TB) {
	t.Helper()
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("agent returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("agent did not stop within 30s")
	}
}

// eventually polls cond every 250 ms until it returns true or timeout.
// startNode runs an agent for cfg whose test pods live in ns and waits
// for its Node; at cleanup ns's pods are removed, then the agent stops.
func startNode(t testing.TB, cfg kubelet.Config, ns string) *agentHandle {
	t.Helper()
	createNamespace(t, ns)
	h := startAgent(t, cfg)
	t.Cleanup(func() { h.stop(t) })
	t.Cleanup(func() { deleteAllPods(t, ns, cfg.RootDir) })
	eventually(t, 60*time.Second, "node registered", func() (bool, error) {
		_, err := client.CoreV1().Nodes().Get(context.Background(), cfg.NodeName, metav1.GetOptions{})
		return err == nil, err
	})
	return h
}

func eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
}

func createNamespace(t testing.TB, name string) {
	t.Helper()
	if _, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func getPod(ns, name string) (*corev1.Pod, error) {
	return client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
}

func podRunningReady(ns, name string) func() (bool, error) {
	return func() (bool, error) {
		p, err := getPod(ns, name)
		if err != nil {
			return false, err
		}
		if p.Status.Phase != corev1.PodRunning {
			return false, fmt.Errorf("phase %s, statuses %+v", p.Status.Phase, p.Status.ContainerStatuses)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady {
				return c.Status == corev1.ConditionTrue, fmt.Errorf("ready %s: %s", c.Status, c.Message)
			}
		}
		return false, fmt.Errorf("no Ready condition")
	}
}

func TestSimulatedRuntimeRunsPods(t *testing.T) {
	createNamespace(t, "sim")
	h := startAgent(t, kubelet.Config{NodeName: "sim-node", Runtime: kubelet.RuntimeSimulated, RootDir: t.TempDir(),
		PodCIDR: "10.245.0.0/24", SimulatedStartDelay: 500 * time.Millisecond})
	defer h.stop(t)
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "sim", Name: "web"}, Spec: corev1.PodSpec{
		NodeName:   "sim-node",
		Containers: []corev1.Container{{Name: "a", Image: "nginx"}, {Name: "b", Image: "nginx"}},
	}}
	if _, err := client.CoreV1().Pods("sim").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "simulated pod Running and Ready", podRunningReady("sim", "web"))
	p, _ := getPod("sim", "web")
	if !strings.HasPrefix(p.Status.PodIP, "10.245.0.") || p.Status.HostIP == "" || p.Status.StartTime == nil {
		t.Errorf("podIP %q hostIP %q startTime %v", p.Status.PodIP, p.Status.HostIP, p.Status.StartTime)
	}

	job := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "sim", Name: "job",
		Annotations: map[string]string{simulated.AnnotationExitCode: "0", simulated.AnnotationRunSeconds: "1"}},
		Spec: corev1.PodSpec{NodeName: "sim-node", RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "work", Image: "busybox"}}}}
	if _, err := client.CoreV1().Pods("sim").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "simulated job pod Succeeded", func() (bool, error) {
		p, err := getPod("sim", "job")
		if err != nil {
			return false, err
		}
		return p.Status.Phase == corev1.PodSucceeded, fmt.Errorf("phase %s", p.Status.Phase)
	})
	p, _ = getPod("sim", "job")
	if st := p.Status.ContainerStatuses[0].State.Terminated; st == nil || st.Reason != "Completed" {
		t.Errorf("job container state = %+v", p.Status.ContainerStatuses[0].State)
	}

	huge := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "sim", Name: "huge"}, Spec: corev1.PodSpec{
		NodeName: "sim-node",
		Containers: []corev1.Container{{Name: "c", Image: "busybox", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1000")}}}},
	}}
	if _, err := client.CoreV1().Pods("sim").Create(ctx, huge, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "pod asking for 1000 cpus rejected with OutOfcpu", func() (bool, error) {
		p, err := getPod("sim", "huge")
		if err != nil {
			return false, err
		}
		return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "OutOfcpu" &&
			strings.HasPrefix(p.Status.Message, "Pod was rejected: Node didn't have enough resource: cpu"), fmt.Errorf("status %+v", p.Status)
	})

	if err := client.CoreV1().Pods("sim").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "simulated pod deleted", func() (bool, error) {
		_, err := getPod("sim", "web")
		return apierrors.IsNotFound(err), err
	})
}

// rootAgentConfig is an agent on real containerd with its own bridge and
// range, so it cannot disturb a kubeseed running on the same machine.
func rootAgentConfig(t testing.TB, node, bridge, cidr string) kubelet.Config {
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs real containers")
	}
	for _, bin := range []string{"containerd", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not installed: run hack/install-deps.sh", bin)
		}
	}
	root := t.TempDir()
	cgroupParent := "/kubeseed-test-" + node
	t.Cleanup(func() {
		// Whatever a failed test left: namespaces pinned, bridge, cgroups.
		netns, _ := filepath.Glob(filepath.Join(root, "network", "netns", "*"))
		for _, p := range netns {
			_ = exec.Command("umount", "-l", p).Run()
		}
		_ = exec.Command("ip", "link", "del", bridge).Run()
		pods, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroupParent + "/pod*")
		for _, d := range pods {
			_ = os.Remove(d)
		}
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*" + cgroupParent)
		for _, d := range dirs {
			_ = os.Remove(d)
		}
	})
	return kubelet.Config{NodeName: node, RootDir: root, PodCIDR: cidr, BridgeName: bridge, CgroupParent: cgroupParent,
		ClientCA: kubeletClientCA, ServerAddress: "0.0.0.0:0"}
}

// deleteAllPods deletes every pod of ns and waits until the agent removed
// them, so no container outlives the test.
func deleteAllPods(t testing.TB, ns string, rootDir string) {
	ctx := context.Background()
	_ = client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](1)}, metav1.ListOptions{})
	eventually(t, 60*time.Second, "pods of "+ns+" removed by the agent", func() (bool, error) {
		l, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		return len(l.Items) == 0, fmt.Errorf("%d pods left", len(l.Items))
	})
	// Finished pods vanish from the API at once; wait for the agent to
	// have removed them from the node too (their directory goes last).
	eventually(t, 30*time.Second, "pod directories removed", func() (bool, error) {
		dirs, _ := filepath.Glob(filepath.Join(rootDir, "pods", "*"))
		return len(dirs) == 0, fmt.Errorf("left: %v", dirs)
	})
}

// kubectlCommand returns a builder of commands running the stock kubectl
// (v1.37.1 from the envtest assets) against the suite's API server.
func kubectlCommand(t *testing.T) func(args ...string) *exec.Cmd {
	t.Helper()
	dir, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "kubectl")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("kubectl not built: %v", err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: restConfig.Host, CertificateAuthorityData: restConfig.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: restConfig.CertData, ClientKeyData: restConfig.KeyData, Token: restConfig.BearerToken}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "admin"}
	kc.CurrentContext = "envtest"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		t.Fatal(err)
	}
	return func(args ...string) *exec.Cmd {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel)
		return exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", path}, args...)...)
	}
}

func httpGet(url string) (string, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func webPod(ns, name, node string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PodSpec{
		NodeName:                      node,
		TerminationGracePeriodSeconds: ptr.To[int64](2),
		Containers: []corev1.Container{
			{Name: "web", Image: "busybox", Command: []string{"sh", "-c",
				"mkdir -p /www && echo hello from $(POD_NAME) > /www/index.html && exec httpd -f -p 8080 -h /www"},
				Env:   []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
				Ports: []corev1.ContainerPort{{ContainerPort: 8080}}},
			{Name: "client", Image: "busybox", Command: []string{"sh", "-c",
				"while true; do wget -q -O- http://localhost:8080/; sleep 1; done"}},
		},
	}}
}

func TestContainerdNodeAndPods(t *testing.T) {
	cfg := rootAgentConfig(t, "ctr-node", "kstkubelet0", "10.244.250.0/24")
	ns := "ctr"
	createNamespace(t, ns)
	h := startAgent(t, cfg)
	defer h.stop(t)
	defer deleteAllPods(t, ns, cfg.RootDir)
	ctx := context.Background()

	t.Run("node registers Ready with a Lease", func(t *testing.T) {
		eventually(t, 30*time.Second, "node Ready", func() (bool, error) {
			n, err := client.CoreV1().Nodes().Get(ctx, "ctr-node", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady {
					return c.Status == corev1.ConditionTrue && c.Reason == "KubeletReady", nil
				}
			}
			return false, nil
		})
		n, _ := client.CoreV1().Nodes().Get(ctx, "ctr-node", metav1.GetOptions{})
		if n.Spec.PodCIDR != "10.244.250.0/24" || n.Status.Capacity.Pods().Value() != 110 || n.Status.Capacity.Cpu().IsZero() ||
			n.Status.Capacity.Memory().IsZero() || !strings.HasPrefix(n.Status.NodeInfo.ContainerRuntimeVersion, "containerd://") {
			t.Errorf("node = spec %+v capacity %v nodeInfo %+v", n.Spec, n.Status.Capacity, n.Status.NodeInfo)
		}
		lease, err := client.CoordinationV1().Leases("kube-node-lease").Get(ctx, "ctr-node", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		first := lease.Spec.RenewTime.Time
		eventually(t, 15*time.Second, "lease renewed", func() (bool, error) {
			l, err := client.CoordinationV1().Leases("kube-node-lease").Get(ctx, "ctr-node", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return l.Spec.RenewTime.After(first) && *l.Spec.HolderIdentity == "ctr-node", nil
		})
	})

	t.Run("two containers share localhost", func(t *testing.T) {
		if _, err := client.CoreV1().Pods(ns).Create(ctx, webPod(ns, "web", "ctr-node"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, "pod Running 2/2", podRunningReady(ns, "web"))
		p, _ := getPod(ns, "web")
		if !strings.HasPrefix(p.Status.PodIP, "10.244.250.") {
			t.Fatalf("podIP %q not from the node's CIDR", p.Status.PodIP)
		}
		for _, cs := range p.Status.ContainerStatuses {
			if !cs.Ready || cs.Started == nil || !*cs.Started || cs.State.Running == nil || !strings.HasPrefix(cs.ContainerID, "containerd://") {
				t.Errorf("container status %+v", cs)
			}
		}
		// The node reaches the pod over the bridge.
		eventually(t, 10*time.Second, "pod answering on its IP", func() (bool, error) {
			body, err := httpGet("http://" + p.Status.PodIP + ":8080/")
			return strings.Contains(body, "hello from web"), err
		})
		// The second container reached the first on localhost: its log says so.
		logPath := filepath.Join(cfg.RootDir, "pods", string(p.UID), "client", "0.log")
		eventually(t, 15*time.Second, "client log shows the page", func() (bool, error) {
			out, err := readLog(logPath)
			return strings.Contains(out, "hello from web\n"), err
		})
		// Per-pod resolv.conf points at cluster DNS.
		b, err := os.ReadFile(filepath.Join(cfg.RootDir, "pods", string(p.UID), "etc", "resolv.conf"))
		if err != nil || !strings.Contains(string(b), "nameserver 10.96.0.10") || !strings.Contains(string(b), "search ctr.svc.cluster.local") {
			t.Errorf("resolv.conf = %q, %v", b, err)
		}
	})

	t.Run("a crashing container backs off", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "crash"}, Spec: corev1.PodSpec{
			NodeName: "ctr-node", TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers: []corev1.Container{{Name: "crash", Image: "busybox", Command: []string{"sh", "-c", "echo crashing; exit 1"}}},
		}}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		sawBackoff := false
		eventually(t, 40*time.Second, "restartCount 2 after a CrashLoopBackOff", func() (bool, error) {
			p, err := getPod(ns, "crash")
			if err != nil || len(p.Status.ContainerStatuses) == 0 {
				return false, err
			}
			cs := p.Status.ContainerStatuses[0]
			if w := cs.State.Waiting; w != nil && w.Reason == "CrashLoopBackOff" {
				sawBackoff = true
				if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 1 || lt.Reason != "Error" {
					return false, fmt.Errorf("lastState %+v", cs.LastTerminationState)
				}
			}
			return sawBackoff && cs.RestartCount >= 2, fmt.Errorf("restartCount %d state %+v", cs.RestartCount, cs.State)
		})
		p, _ := getPod(ns, "crash")
		if p.Status.Phase != corev1.PodRunning {
			t.Errorf("phase of a crash-looping pod with restartPolicy Always = %s, want Running", p.Status.Phase)
		}
	})

	t.Run("restartPolicy Never: Succeeded and Failed", func(t *testing.T) {
		for name, code := range map[string]string{"done": "0", "fail": "3"} {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PodSpec{
				NodeName: "ctr-node", RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sh", "-c", "exit " + code}}},
			}}
			if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for name, want := range map[string]corev1.PodPhase{"done": corev1.PodSucceeded, "fail": corev1.PodFailed} {
			eventually(t, 30*time.Second, name+" "+string(want), func() (bool, error) {
				p, err := getPod(ns, name)
				if err != nil {
					return false, err
				}
				return p.Status.Phase == want, fmt.Errorf("phase %s", p.Status.Phase)
			})
		}
		p, _ := getPod(ns, "fail")
		if st := p.Status.ContainerStatuses[0].State.Terminated; st == nil || st.ExitCode != 3 || st.Reason != "Error" {
			t.Errorf("failed container state %+v", p.Status.ContainerStatuses[0].State)
		}
		// A finished pod gives its address and namespace back.
		eventually(t, 10*time.Second, "finished pod's netns and address released", func() (bool, error) {
			_, nsErr := os.Stat(filepath.Join(cfg.RootDir, "network", "netns", string(p.UID)))
			_, ipErr := os.Stat(filepath.Join(cfg.RootDir, "network", "ipam", "kubeseed", p.Status.PodIP))
			return os.IsNotExist(nsErr) && os.IsNotExist(ipErr), fmt.Errorf("netns: %v, ip: %v", nsErr, ipErr)
		})
		if b, err := client.CoreV1().Pods(ns).GetLogs("done", &corev1.PodLogOptions{}).DoRaw(ctx); err != nil {
			t.Errorf("logs of a finished pod: %q %v", b, err)
		}
	})

	t.Run("service environment variables", func(t *testing.T) {
		api, err := client.CoreV1().Services(metav1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shop-web"},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}}
		if svc, err = client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		defer client.CoreV1().Services(ns).Delete(ctx, "shop-web", metav1.DeleteOptions{})
		// The agent's service cache sees the new Service before the pod starts.
		time.Sleep(time.Second)
		script := `echo "api=$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT web=$SHOP_WEB_SERVICE_HOST:$SHOP_WEB_SERVICE_PORT_HTTP $SHOP_WEB_PORT"`
		for name, links := range map[string]bool{"env-links": true, "env-nolinks": false} {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PodSpec{
				NodeName: "ctr-node", RestartPolicy: corev1.RestartPolicyNever, EnableServiceLinks: ptr.To(links),
				Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sh", "-c", script}}},
			}}
			if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		apiAddr := api.Spec.ClusterIP + ":443"
		for name, want := range map[string]string{
			"env-links":   "api=" + apiAddr + " web=" + svc.Spec.ClusterIP + ":8080 tcp://" + svc.Spec.ClusterIP + ":8080",
			"env-nolinks": "api=" + apiAddr + " web=: ",
		} {
			eventually(t, 30*time.Second, name+" logs its environment", func() (bool, error) {
				b, err := client.CoreV1().Pods(ns).GetLogs(name, &corev1.PodLogOptions{}).DoRaw(ctx)
				return strings.TrimRight(string(b), "\n") == want, fmt.Errorf("log %q, want %q: %v", b, want, err)
			})
		}
	})

	t.Run("kubectl logs through the API server", func(t *testing.T) {
		eventually(t, 15*time.Second, "logs of the client container", func() (bool, error) {
			b, err := client.CoreV1().Pods(ns).GetLogs("web", &corev1.PodLogOptions{Container: "client", TailLines: ptr.To[int64](1)}).DoRaw(ctx)
			return strings.TrimSpace(string(b)) == "hello from web", fmt.Errorf("%q: %v", b, err)
		})
		b, err := client.CoreV1().Pods(ns).GetLogs("crash", &corev1.PodLogOptions{Previous: true}).DoRaw(ctx)
		if err != nil || !strings.Contains(string(b), "crashing") {
			t.Errorf("previous logs of crash = %q, %v", b, err)
		}
		fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		stream, err := client.CoreV1().Pods(ns).GetLogs("web", &corev1.PodLogOptions{Container: "client", Follow: true, TailLines: ptr.To[int64](0)}).Stream(fctx)
		if err != nil {
			t.Fatal(err)
		}
		defer stream.Close()
		buf := make([]byte, 4096)
		var got string
		for strings.Count(got, "hello from web") < 2 {
			n, err := stream.Read(buf)
			got += string(buf[:n])
			if err != nil {
				t.Fatalf("follow stream ended after %q: %v", got, err)
			}
		}
	})

	t.Run("kubectl exec and port-forward", func(t *testing.T) {
		kubectl := kubectlCommand(t)
		out, err := kubectl("exec", "-n", ns, "web", "-c", "client", "--", "sh", "-c", "cat /etc/hostname; wget -q -O- http://localhost:8080/").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "web\nhello from web") {
			t.Errorf("kubectl exec: %q, %v", out, err)
		}
		cmd := kubectl("exec", "-i", "-n", ns, "web", "-c", "client", "--", "cat")
		cmd.Stdin = strings.NewReader("typed input\n")
		if out, err := cmd.CombinedOutput(); err != nil || string(out) != "typed input\n" {
			t.Errorf("kubectl exec -i: %q, %v", out, err)
		}
		err = kubectl("exec", "-n", ns, "web", "-c", "client", "--", "sh", "-c", "exit 7").Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
			t.Errorf("kubectl exec of a failing command: %v, want exit status 7", err)
		}

		pf := kubectl("port-forward", "-n", ns, "pod/web", "0:8080")
		stdout, _ := pf.StdoutPipe()
		if err := pf.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = pf.Process.Kill(); _ = pf.Wait() }()
		buf := make([]byte, 256)
		n, _ := stdout.Read(buf)
		line := string(buf[:n])
		// "Forwarding from 127.0.0.1:PORT -> 8080"
		var port int
		if i := strings.Index(line, "127.0.0.1:"); i >= 0 {
			fmt.Sscanf(line[i+len("127.0.0.1:"):], "%d", &port)
		}
		if port == 0 {
			t.Fatalf("port-forward said %q", line)
		}
		body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil || !strings.Contains(body, "hello from web") {
			t.Errorf("through port-forward: %q, %v", body, err)
		}
	})

	t.Run("readiness gates Ready, liveness restarts", func(t *testing.T) {
		kubectl := kubectlCommand(t)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "probed"}, Spec: corev1.PodSpec{
			NodeName: "ctr-node", TerminationGracePeriodSeconds: ptr.To[int64](1),
			Containers: []corev1.Container{{Name: "web", Image: "busybox",
				Command: []string{"sh", "-c", "mkdir -p /www && touch /tmp/alive && exec httpd -f -p 8080 -h /www"},
				Ports:   []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{PeriodSeconds: 1, TimeoutSeconds: 5, ProbeHandler: corev1.ProbeHandler{
					HTTPGet: &corev1.HTTPGetAction{Path: "/ready.html", Port: intstr.FromString("http")}}},
				LivenessProbe: &corev1.Probe{InitialDelaySeconds: 2, PeriodSeconds: 1, TimeoutSeconds: 5, FailureThreshold: 2, ProbeHandler: corev1.ProbeHandler{
					Exec: &corev1.ExecAction{Command: []string{"test", "-f", "/tmp/alive"}}}},
			}},
		}}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "running but not ready", func() (bool, error) {
			p, err := getPod(ns, "probed")
			if err != nil || len(p.Status.ContainerStatuses) == 0 {
				return false, err
			}
			cs := p.Status.ContainerStatuses[0]
			return cs.State.Running != nil && !cs.Ready && p.Status.Phase == corev1.PodRunning, nil
		})
		time.Sleep(2 * time.Second)
		if p, _ := getPod(ns, "probed"); p.Status.ContainerStatuses[0].Ready {
			t.Fatal("ready before the readiness probe succeeded")
		}
		if out, err := kubectl("exec", "-n", ns, "probed", "--", "touch", "/www/ready.html").CombinedOutput(); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		eventually(t, 15*time.Second, "Ready after the probe succeeds", func() (bool, error) {
			p, err := getPod(ns, "probed")
			if err == nil && p.Status.ContainerStatuses[0].RestartCount > 0 {
				t.Fatalf("container restarted before the test removed /tmp/alive: %+v", p.Status.ContainerStatuses[0].LastTerminationState)
			}
			return podRunningReady(ns, "probed")()
		})
		if out, err := kubectl("exec", "-n", ns, "probed", "--", "rm", "/tmp/alive").CombinedOutput(); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		eventually(t, 30*time.Second, "restarted by the liveness probe", func() (bool, error) {
			p, err := getPod(ns, "probed")
			if err != nil {
				return false, err
			}
			cs := p.Status.ContainerStatuses[0]
			return cs.RestartCount >= 1 && cs.State.Running != nil, fmt.Errorf("restarts %d state %+v", cs.RestartCount, cs.State)
		})
		// Events are posted asynchronously.
		eventually(t, 15*time.Second, "Pulled, Created, Started, Unhealthy and Killing events", func() (bool, error) {
			evs, err := client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=probed"})
			if err != nil {
				return false, err
			}
			seen := map[string]bool{}
			for _, e := range evs.Items {
				seen[e.Reason] = true
			}
			for _, r := range []string{"Pulled", "Created", "Started", "Unhealthy", "Killing"} {
				if !seen[r] {
					return false, fmt.Errorf("no %s event (saw %v)", r, seen)
				}
			}
			return true, nil
		})
	})

	t.Run("volumes", func(t *testing.T) {
		kubectl := kubectlCommand(t)
		hostDir := t.TempDir()
		if err := os.WriteFile(filepath.Join(hostDir, "from-host"), []byte("host file\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "conf"},
			Data: map[string]string{"greeting": "v1"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"},
			Data: map[string][]byte{"password": []byte("s3cret")}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "vols", Labels: map[string]string{"app": "vols"}}, Spec: corev1.PodSpec{
			NodeName: "ctr-node", TerminationGracePeriodSeconds: ptr.To[int64](1),
			Volumes: []corev1.Volume{
				{Name: "shared", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "mem", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
				{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "conf"}}}},
				{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}},
				{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}},
				{Name: "info", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
					{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}}}}}},
			},
			Containers: []corev1.Container{
				{Name: "writer", Image: "busybox", Command: []string{"sh", "-c", "echo shared data > /shared/file && exec sleep 3600"},
					VolumeMounts: []corev1.VolumeMount{{Name: "shared", MountPath: "/shared"}}},
				{Name: "reader", Image: "busybox", Command: []string{"sleep", "3600"},
					VolumeMounts: []corev1.VolumeMount{
						{Name: "shared", MountPath: "/data"}, {Name: "mem", MountPath: "/mem"},
						{Name: "conf", MountPath: "/etc/conf"}, {Name: "creds", MountPath: "/etc/creds", ReadOnly: true},
						{Name: "host", MountPath: "/host"}, {Name: "info", MountPath: "/etc/podinfo"}}},
			},
		}}
		created, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "volumes pod Running", podRunningReady(ns, "vols"))
		read := func(path string) string {
			out, _ := kubectl("exec", "-n", ns, "vols", "-c", "reader", "--", "cat", path).CombinedOutput()
			return string(out)
		}
		eventually(t, 10*time.Second, "emptyDir shared between containers", func() (bool, error) {
			return read("/data/file") == "shared data\n", nil
		})
		for path, want := range map[string]string{"/etc/conf/greeting": "v1", "/etc/creds/password": "s3cret",
			"/host/from-host": "host file\n", "/etc/podinfo/labels": "app=\"vols\"\n"} {
			if got := read(path); got != want {
				t.Errorf("%s = %q, want %q", path, got, want)
			}
		}
		if out, _ := kubectl("exec", "-n", ns, "vols", "-c", "reader", "--", "sh", "-c", "grep ' /mem ' /proc/mounts").CombinedOutput(); !strings.Contains(string(out), "tmpfs") {
			t.Errorf("medium Memory emptyDir is not tmpfs: %q", out)
		}
		if err := kubectl("exec", "-n", ns, "vols", "-c", "reader", "--", "touch", "/etc/creds/x").Run(); err == nil {
			t.Error("readOnly secret mount is writable")
		}
		cm, _ := client.CoreV1().ConfigMaps(ns).Get(ctx, "conf", metav1.GetOptions{})
		cm.Data["greeting"] = "v2"
		if _, err := client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "configMap update visible in the running pod", func() (bool, error) {
			got := read("/etc/conf/greeting")
			return got == "v2", fmt.Errorf("%q", got)
		})
		if err := client.CoreV1().Pods(ns).Delete(ctx, "vols", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "volumes pod gone", func() (bool, error) {
			_, err := getPod(ns, "vols")
			return apierrors.IsNotFound(err), err
		})
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		if strings.Contains(string(mounts), string(created.UID)) {
			t.Error("a mount of the deleted pod is left on the node")
		}
		if b, err := os.ReadFile(filepath.Join(hostDir, "from-host")); err != nil || string(b) != "host file\n" {
			t.Errorf("hostPath content changed by the pod's removal: %q %v", b, err)
		}
	})

	t.Run("init containers run first, in order", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "inits"}, Spec: corev1.PodSpec{
			NodeName: "ctr-node", TerminationGracePeriodSeconds: ptr.To[int64](1),
			Volumes: []corev1.Volume{{Name: "work", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
			InitContainers: []corev1.Container{
				{Name: "first", Image: "busybox", Command: []string{"sh", "-c", "sleep 1; echo one >> /work/order"},
					VolumeMounts: []corev1.VolumeMount{{Name: "work", MountPath: "/work"}}},
				{Name: "second", Image: "busybox", Command: []string{"sh", "-c", "echo two >> /work/order"},
					VolumeMounts: []corev1.VolumeMount{{Name: "work", MountPath: "/work"}}},
			},
			Containers: []corev1.Container{{Name: "app", Image: "busybox", Command: []string{"sh", "-c", "cat /work/order; exec sleep 3600"},
				VolumeMounts: []corev1.VolumeMount{{Name: "work", MountPath: "/work"}}}},
		}}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		sawInitializing := false
		eventually(t, 30*time.Second, "pod Running after its init containers", func() (bool, error) {
			p, err := getPod(ns, "inits")
			if err != nil {
				return false, err
			}
			if len(p.Status.ContainerStatuses) > 0 {
				if w := p.Status.ContainerStatuses[0].State.Waiting; w != nil && w.Reason == "PodInitializing" && p.Status.Phase == corev1.PodPending {
					sawInitializing = true
				}
			}
			return podRunningReady(ns, "inits")()
		})
		if !sawInitializing {
			t.Error("never saw the app container waiting with PodInitializing")
		}
		p, _ := getPod(ns, "inits")
		for _, cs := range p.Status.InitContainerStatuses {
			if cs.State.Terminated == nil || cs.State.Terminated.Reason != "Completed" {
				t.Errorf("init container %s state %+v", cs.Name, cs.State)
			}
		}
		eventually(t, 10*time.Second, "app saw the init containers' output in order", func() (bool, error) {
			b, err := client.CoreV1().Pods(ns).GetLogs("inits", &corev1.PodLogOptions{Container: "app"}).DoRaw(ctx)
			return string(b) == "one\ntwo\n", fmt.Errorf("%q %v", b, err)
		})
	})

	t.Run("a memory limit OOM-kills", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hog"}, Spec: corev1.PodSpec{
			NodeName: "ctr-node", RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "hog", Image: "busybox", Command: []string{"tail", "/dev/zero"},
				Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("20Mi"), corev1.ResourceCPU: resource.MustParse("500m")}}}},
		}}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, "OOMKilled", func() (bool, error) {
			p, err := getPod(ns, "hog")
			if err != nil || len(p.Status.ContainerStatuses) == 0 {
				return false, err
			}
			st := p.Status.ContainerStatuses[0].State.Terminated
			return st != nil && st.Reason == "OOMKilled" && st.ExitCode == 137 && p.Status.Phase == corev1.PodFailed,
				fmt.Errorf("phase %s state %+v", p.Status.Phase, p.Status.ContainerStatuses[0].State)
		})
	})

	t.Run("lifecycle hooks and security context", func(t *testing.T) {
		hostDir := t.TempDir()
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hooks"}, Spec: corev1.PodSpec{
			NodeName: "ctr-node", TerminationGracePeriodSeconds: ptr.To[int64](5),
			Volumes: []corev1.Volume{{Name: "out", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: hostDir}}}},
			Containers: []corev1.Container{{Name: "c", Image: "busybox",
				Command: []string{"sh", "-c", "id -u; exec sleep 3600"},
				SecurityContext: &corev1.SecurityContext{RunAsUser: ptr.To[int64](1000), AllowPrivilegeEscalation: ptr.To(false),
					Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
				VolumeMounts: []corev1.VolumeMount{{Name: "out", MountPath: "/out"}},
				Lifecycle: &corev1.Lifecycle{
					PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "echo hook > /tmp/poststart"}}},
					PreStop:   &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "echo bye > /out/prestop"}}},
				}}},
		}}
		if err := os.Chmod(hostDir, 0o777); err != nil {
			t.Fatal(err)
		}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "hooks pod Running", podRunningReady(ns, "hooks"))
		eventually(t, 10*time.Second, "runs as uid 1000", func() (bool, error) {
			b, err := client.CoreV1().Pods(ns).GetLogs("hooks", &corev1.PodLogOptions{}).DoRaw(ctx)
			return strings.HasPrefix(string(b), "1000\n"), fmt.Errorf("%q %v", b, err)
		})
		out, err := kubectlCommand(t)("exec", "-n", ns, "hooks", "--", "cat", "/tmp/poststart").CombinedOutput()
		if err != nil || string(out) != "hook\n" {
			t.Errorf("postStart hook output %q, %v", out, err)
		}
		if err := client.CoreV1().Pods(ns).Delete(ctx, "hooks", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "hooks pod gone", func() (bool, error) {
			_, err := getPod(ns, "hooks")
			return apierrors.IsNotFound(err), err
		})
		if b, err := os.ReadFile(filepath.Join(hostDir, "prestop")); err != nil || string(b) != "bye\n" {
			t.Errorf("preStop hook did not run: %q %v", b, err)
		}
	})

	t.Run("kubectl attach to a container with stdin", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "interactive"}, Spec: corev1.PodSpec{
			NodeName: "ctr-node", RestartPolicy: corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: "c", Image: "busybox", Stdin: true, StdinOnce: true,
				Command: []string{"sh", "-c", "read line; echo got $line"}}},
		}}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "interactive pod Running", podRunningReady(ns, "interactive"))
		cmd := kubectlCommand(t)("attach", "-i", "-n", ns, "interactive", "-c", "c")
		cmd.Stdin = strings.NewReader("hello\n")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "got hello") {
			p, _ := getPod(ns, "interactive")
			logs, _ := client.CoreV1().Pods(ns).GetLogs("interactive", &corev1.PodLogOptions{}).DoRaw(ctx)
			t.Errorf("kubectl attach: %q, %v; container status %+v; log %q", out, err, p.Status.ContainerStatuses, logs)
		}
		eventually(t, 20*time.Second, "interactive pod Succeeded after its input ended", func() (bool, error) {
			p, err := getPod(ns, "interactive")
			return err == nil && p.Status.Phase == corev1.PodSucceeded, err
		})
	})

	t.Run("kubectl run -i --rm", func(t *testing.T) {
		cmd := kubectlCommand(t)("run", "-i", "--rm", "--restart=Never", "debug", "--image=busybox", "-n", ns,
			`--overrides={"spec":{"nodeName":"ctr-node"}}`, "--", "sh")
		cmd.Stdin = strings.NewReader("echo hi from $HOSTNAME\n")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "hi from debug") {
			t.Errorf("kubectl run -i --rm: %q, %v", out, err)
		}
		eventually(t, 30*time.Second, "debug pod removed by --rm", func() (bool, error) {
			_, err := getPod(ns, "debug")
			return apierrors.IsNotFound(err), err
		})
	})

	t.Run("a missing image fails to pull", func(t *testing.T) {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "noimage"}, Spec: corev1.PodSpec{
			NodeName:   "ctr-node",
			Containers: []corev1.Container{{Name: "c", Image: "example.com/not-here:v1"}},
		}}
		if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// ErrImagePull lasts until the next sync, which finds the pull
		// backing off (TestImagePulls watches the sequence).
		eventually(t, 20*time.Second, "ErrImagePull or ImagePullBackOff", func() (bool, error) {
			p, err := getPod(ns, "noimage")
			if err != nil || len(p.Status.ContainerStatuses) == 0 {
				return false, err
			}
			w := p.Status.ContainerStatuses[0].State.Waiting
			return w != nil && (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff") && p.Status.Phase == corev1.PodPending, nil
		})
	})

	t.Run("deleting a pod removes containers, netns and address", func(t *testing.T) {
		p, err := getPod(ns, "web")
		if err != nil {
			t.Skip("web pod missing")
		}
		uid, ip := p.UID, p.Status.PodIP
		if err := client.CoreV1().Pods(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "pod object gone", func() (bool, error) {
			_, err := getPod(ns, "web")
			return apierrors.IsNotFound(err), err
		})
		for _, path := range []string{
			filepath.Join(cfg.RootDir, "network", "netns", string(uid)),
			filepath.Join(cfg.RootDir, "network", "ipam", "kubeseed", ip),
			filepath.Join(cfg.RootDir, "pods", string(uid)),
			filepath.Join("/sys/fs/cgroup/memory", cfg.CgroupParent, "pod"+string(uid)),
		} {
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("%s still exists after the pod was deleted", path)
			}
		}
		cc, err := containerdclient.New(kubeletcontainerd.SocketPath(cfg.RootDir), containerdclient.WithDefaultNamespace(kubeletcontainerd.Namespace))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		left, err := cc.Containers(ctx, fmt.Sprintf("labels.%q==%q", kubeletcontainerd.LabelPodUID, string(uid)))
		if err != nil || len(left) != 0 {
			t.Errorf("containerd still has %d containers of the deleted pod (%v)", len(left), err)
		}
		snaps := 0
		_ = cc.SnapshotService(kubeletcontainerd.Snapshotter).Walk(ctx, func(_ context.Context, info snapshots.Info) error {
			if info.Kind == snapshots.KindActive {
				snaps++
			}
			return nil
		})
		// Only the pods still running (crash, probed, exited ones) may hold active snapshots.
		pods, _ := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if snaps > 2*len(pods.Items) {
			t.Errorf("%d active snapshots for %d remaining pods", snaps, len(pods.Items))
		}
	})
}

func TestAgentRestartKeepsContainers(t *testing.T) {
	cfg := rootAgentConfig(t, "restart-node", "kstkubelet1", "10.244.251.0/24")
	ns := "restart"
	createNamespace(t, ns)
	ctx := context.Background()
	h := startAgent(t, cfg)
	if _, err := client.CoreV1().Pods(ns).Create(ctx, webPod(ns, "web", "restart-node"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "pod Running", podRunningReady(ns, "web"))
	before, _ := getPod(ns, "web")
	h.stop(t)

	h = startAgent(t, cfg)
	defer h.stop(t)
	defer deleteAllPods(t, ns, cfg.RootDir)
	// Give the new agent several syncs to (wrongly) restart anything.
	time.Sleep(5 * time.Second)
	eventually(t, 20*time.Second, "pod Running after restart", podRunningReady(ns, "web"))
	after, _ := getPod(ns, "web")
	for i, cs := range after.Status.ContainerStatuses {
		b := before.Status.ContainerStatuses[i]
		if cs.RestartCount != 0 || cs.ContainerID != b.ContainerID || !cs.State.Running.StartedAt.Equal(&b.State.Running.StartedAt) {
			t.Errorf("container %s restarted: before %+v after %+v", cs.Name, b, cs)
		}
	}
	if after.Status.PodIP != before.Status.PodIP {
		t.Errorf("pod IP changed from %s to %s", before.Status.PodIP, after.Status.PodIP)
	}
	body, err := httpGet("http://" + after.Status.PodIP + ":8080/")
	if err != nil || !strings.Contains(body, "hello from web") {
		t.Errorf("pod does not answer after the agent restarted: %q %v", body, err)
	}
}

// TestRunExitingProgramPrintsOnce is `kubectl run -i --rm -- echo hello`:
// the program exits at once, racing kubectl's attach, and whichever way
// the race goes (attached in time, attach refused, pod already finished)
// kubectl must print the output exactly once, as on upstream.
func TestRunExitingProgramPrintsOnce(t *testing.T) {
	cfg := rootAgentConfig(t, "run-node", "kstkubelet2", "10.244.252.0/24")
	ns := "runonce"
	createNamespace(t, ns)
	h := startAgent(t, cfg)
	defer h.stop(t)
	defer deleteAllPods(t, ns, cfg.RootDir)
	eventually(t, 30*time.Second, "node Ready", func() (bool, error) {
		n, err := client.CoreV1().Nodes().Get(context.Background(), "run-node", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, nil
			}
		}
		return false, nil
	})
	kubectl := kubectlCommand(t)
	// kubectl run -i waits for Running, prints the log so far, then
	// attaches. Programs that exit 0 to 190 ms after they print take the
	// race at every moment: before the agent reports Running, between
	// kubectl's log read and its attach, after it attached.
	for i := range 20 {
		name := fmt.Sprintf("debug-%d", i)
		want := fmt.Sprintf("hello %d", i)
		script := fmt.Sprintf("echo %s; sleep 0.%03d", want, i*10)
		if i == 0 {
			script = "echo " + want
		}
		out, err := kubectl("run", "-i", "--rm", "--restart=Never", name, "--image=busybox", "-n", ns,
			`--overrides={"spec":{"nodeName":"run-node"}}`, "--", "sh", "-c", script).CombinedOutput()
		if err != nil {
			t.Errorf("kubectl run -i --rm %s: %v (output %q)", name, err, out)
			continue
		}
		if n := strings.Count(string(out), want+"\n"); n != 1 {
			t.Errorf("kubectl run -i --rm -- sh -c %q printed its output %d times, want once; output %q", script, n, out)
		}
	}
}
