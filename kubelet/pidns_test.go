package kubelet_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// TestShareProcessNamespace: with shareProcessNamespace the pod's containers
// see and signal each other's processes, and the namespace outlives a
// container's restart (a holder is its pid 1, as upstream's pause is); it
// goes with the pod.
func TestShareProcessNamespace(t *testing.T) {
	cfg := rootAgentConfig(t, "pidns-node", "kstkubelet10", "10.244.241.0/24")
	ns := "pidns"
	startNode(t, cfg, ns)
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared"}, Spec: corev1.PodSpec{
		NodeName:                      "pidns-node",
		ShareProcessNamespace:         ptr.To(true),
		TerminationGracePeriodSeconds: ptr.To[int64](2),
		Containers: []corev1.Container{
			{Name: "web", Image: "busybox", Command: []string{"httpd", "-f", "-p", "8080", "-h", "/etc"}},
			{Name: "side", Image: "busybox", Command: []string{"sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"}},
		},
	}}
	if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "pod Running and Ready", podRunningReady(ns, "shared"))
	kubectl := kubectlCommand(t)
	ps := func() string {
		out, err := kubectl("exec", "-n", ns, "shared", "-c", "side", "--", "ps", "-o", "pid,comm").CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl exec ps: %v\n%s", err, out)
		}
		return string(out)
	}
	out := ps()
	if !strings.Contains(out, "httpd") {
		t.Fatalf("the side container does not see web's httpd:\n%s", out)
	}
	if first := strings.Fields(strings.SplitN(out, "\n", 3)[1]); len(first) < 2 || first[0] != "1" || first[1] != "sh" {
		t.Errorf("pid 1 of the pod is %v, want the holder (sh):\n%s", first, out)
	}

	// The side container kills web's process: web restarts, side runs on
	// in the same namespace and sees the new httpd.
	kill := `for p in /proc/[0-9]*; do [ "$(cat $p/comm)" = httpd ] && kill ${p#/proc/}; done; true`
	if out, err := kubectl("exec", "-n", ns, "shared", "-c", "side", "--", "sh", "-c", kill).CombinedOutput(); err != nil {
		t.Fatalf("kubectl exec kill httpd: %v\n%s", err, out)
	}
	eventually(t, 60*time.Second, "web restarted, side untouched", func() (bool, error) {
		p, err := getPod(ns, "shared")
		if err != nil {
			return false, err
		}
		restarts := map[string]int32{}
		running := map[string]bool{}
		for _, cs := range p.Status.ContainerStatuses {
			restarts[cs.Name], running[cs.Name] = cs.RestartCount, cs.State.Running != nil
		}
		return restarts["web"] == 1 && running["web"] && restarts["side"] == 0 && running["side"],
			fmt.Errorf("restarts %v running %v", restarts, running)
	})
	if out := ps(); !strings.Contains(out, "httpd") {
		t.Errorf("after web's restart the side container does not see httpd:\n%s", out)
	}

	if err := client.CoreV1().Pods(ns).Delete(ctx, "shared", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the namespace holder gone with the pod", func() (bool, error) {
		_, err := getPod(ns, "shared")
		holders, _ := exec.Command("pgrep", "-f", "sleep 2147483647").Output()
		return err != nil && len(holders) == 0, fmt.Errorf("pod: %v; holder processes %q", err, holders)
	})
}
