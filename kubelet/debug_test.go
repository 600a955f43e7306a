package kubelet_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestKubectlDebug drives stock `kubectl debug` against a pod on a real
// node: the ephemeral container shares the pod's network, joins the target
// container's processes, is attached to with -i, and never restarts; the
// pod's own containers are left alone. `kubectl debug node/` gets the
// node's processes (hostPID) and its root file system at /host.
func TestKubectlDebug(t *testing.T) {
	cfg := rootAgentConfig(t, "debug-node", "kstkubelet9", "10.244.242.0/24")
	ns := "debug"
	startNode(t, cfg, ns)
	ctx := context.Background()
	if _, err := client.CoreV1().Pods(ns).Create(ctx, webPod(ns, "web", "debug-node"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "web Running and Ready", podRunningReady(ns, "web"))
	kubectl := kubectlCommand(t)

	// Without -i kubectl only adds the container. Its shell lists the
	// target's processes and fetches the page the web container serves on
	// the pod's localhost.
	script := `ps -o comm; echo page: $(wget -qO- http://localhost:8080/)`
	if out, err := kubectl("debug", "-n", ns, "web", "--image=busybox", "--target=web", "-c", "inspect",
		"--", "sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("kubectl debug: %v\n%s", err, out)
	}
	var inspect corev1.ContainerStatus
	eventually(t, 60*time.Second, "ephemeral container inspect finished", func() (bool, error) {
		p, err := getPod(ns, "web")
		if err != nil {
			return false, err
		}
		for _, cs := range p.Status.EphemeralContainerStatuses {
			if cs.Name == "inspect" {
				inspect = cs
				return cs.State.Terminated != nil, fmt.Errorf("state %+v", cs.State)
			}
		}
		return false, fmt.Errorf("no status yet: %+v", p.Status.EphemeralContainerStatuses)
	})
	if st := inspect.State.Terminated; st.ExitCode != 0 || inspect.Ready || inspect.RestartCount != 0 {
		t.Errorf("inspect ended %+v (ready %v, restarts %d), want exit 0, not ready, no restart", st, inspect.Ready, inspect.RestartCount)
	}
	out, err := kubectl("logs", "-n", ns, "web", "-c", "inspect").CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl logs -c inspect: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "httpd") {
		t.Errorf("the debugger does not see its target's processes (httpd):\n%s", out)
	}
	if !strings.Contains(string(out), "page: hello from web") {
		t.Errorf("the debugger does not share the pod's network:\n%s", out)
	}

	// -i attaches to the debugger's stdin and streams its output.
	cmd := kubectl("debug", "-i", "-n", ns, "web", "--image=busybox", "-c", "shell", "--", "sh")
	cmd.Stdin = strings.NewReader("echo attached-$((6*7))\nexit 3\n")
	out, err = cmd.CombinedOutput()
	if !strings.Contains(string(out), "attached-42") {
		t.Errorf("kubectl debug -i: %v, output lacks the shell's answer:\n%s", err, out)
	}
	eventually(t, 30*time.Second, "shell's exit recorded", func() (bool, error) {
		p, err := getPod(ns, "web")
		if err != nil {
			return false, err
		}
		for _, cs := range p.Status.EphemeralContainerStatuses {
			if cs.Name == "shell" && cs.State.Terminated != nil {
				return cs.State.Terminated.ExitCode == 3, fmt.Errorf("exit code %d, want 3", cs.State.Terminated.ExitCode)
			}
		}
		return false, nil
	})

	// The pod itself went on untouched, and the exited debuggers stay
	// exited (never restarted, whatever their exit code).
	time.Sleep(3 * cfg.Resync)
	p, err := getPod(ns, "web")
	if err != nil {
		t.Fatal(err)
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.RestartCount != 0 || !cs.Ready {
			t.Errorf("container %s: restarts %d ready %v after debugging", cs.Name, cs.RestartCount, cs.Ready)
		}
	}
	for _, cs := range p.Status.EphemeralContainerStatuses {
		if cs.RestartCount != 0 || cs.State.Terminated == nil {
			t.Errorf("ephemeral %s restarted or runs again: %+v", cs.Name, cs)
		}
	}

	// kubectl debug node/: a pod on the node in the node's PID namespace,
	// with the node's root at /host.
	cmd = kubectl("debug", "-i", "-n", ns, "node/debug-node", "--image=busybox", "--profile=sysadmin", "--", "sh")
	cmd.Stdin = strings.NewReader("echo pid1=$(cat /proc/1/comm); echo self=$$; cat /host/etc/hostname; exit\n")
	out, err = cmd.CombinedOutput()
	hostInit, _ := os.ReadFile("/proc/1/comm")
	hostName, _ := os.ReadFile("/etc/hostname")
	if err != nil || !strings.Contains(string(out), "pid1="+strings.TrimSpace(string(hostInit))) {
		t.Errorf("kubectl debug node/: %v; want the node's pid 1 (%s):\n%s", err, strings.TrimSpace(string(hostInit)), out)
	}
	if self := between(string(out), "self=", "\n"); self == "1" || self == "" {
		t.Errorf("the node debugger's shell is pid %q: not in the node's PID namespace", self)
	} else if _, err := strconv.Atoi(self); err != nil {
		t.Errorf("self = %q", self)
	}
	if h := strings.TrimSpace(string(hostName)); h != "" && !strings.Contains(string(out), h) {
		t.Errorf("/host/etc/hostname is not the node's (%s):\n%s", h, out)
	}
}

func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i+len(from):]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}
