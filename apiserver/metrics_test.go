package apiserver_test

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fakeNodeMetrics stands in for a node agent's /metrics/resource: the node
// burns a quarter of a core, pod default/top-web's container c a tenth, with
// counters and timestamps that move with the clock as a kubelet's do.
func fakeNodeMetrics(started time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics/resource" {
			http.NotFound(w, r)
			return
		}
		// Counters follow the samples' millisecond timestamps, so rates are exact.
		ms := time.Now().UnixMilli()
		up := float64(ms-started.UnixMilli()) / 1000
		fmt.Fprintf(w, "# TYPE node_cpu_usage_seconds_total counter\nnode_cpu_usage_seconds_total %g %d\n", 1000+0.25*up, ms)
		fmt.Fprintf(w, "# TYPE node_memory_working_set_bytes gauge\nnode_memory_working_set_bytes %d %d\n", 512<<20, ms)
		fmt.Fprintf(w, "# TYPE container_cpu_usage_seconds_total counter\ncontainer_cpu_usage_seconds_total{container=\"c\",namespace=\"default\",pod=\"top-web\"} %g %d\n", 0.1*up, ms)
		fmt.Fprintf(w, "# TYPE container_memory_working_set_bytes gauge\ncontainer_memory_working_set_bytes{container=\"c\",namespace=\"default\",pod=\"top-web\"} %d %d\n", 10<<20, ms)
		fmt.Fprintf(w, "# TYPE container_start_time_seconds gauge\ncontainer_start_time_seconds{container=\"c\",namespace=\"default\",pod=\"top-web\"} %.3f %d\n", float64(started.UnixMilli())/1000, ms)
		fmt.Fprint(w, "# TYPE resource_scrape_error gauge\nresource_scrape_error 0\n")
	}
}

// TestKubectlTop checks the resource metrics API end to end with stock
// kubectl: the API server scrapes the node's endpoint and kubectl top shows
// rates and working sets in upstream's columns.
func TestKubectlTop(t *testing.T) {
	bin, ok := kubectls(t)["kubectl-1.37"]
	if !ok {
		t.Skip("no v1.37 kubectl: run `make envtest`")
	}
	s := server(t)
	ctx := ctxT(t)
	started := time.UnixMilli(time.Now().Add(-10 * time.Second).UnixMilli())
	node := httptest.NewUnstartedServer(fakeNodeMetrics(started))
	node.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	node.StartTLS()
	defer node.Close()
	_, portStr, _ := net.SplitHostPort(node.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)

	n, err := s.client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "top-node"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.client.CoreV1().Nodes().Delete(ctx, "top-node", metav1.DeleteOptions{})
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	n.Status.Capacity = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")}
	n.Status.Allocatable = n.Status.Capacity
	if _, err := s.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := pod("top-web")
	p.Spec.NodeName = "top-node"
	if _, err := s.client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer s.client.CoreV1().Pods("default").Delete(ctx, "top-web", metav1.DeleteOptions{GracePeriodSeconds: new(int64)})

	// The scraper finds the new node within its resolution and needs two
	// looks at it for a rate.
	var out string
	deadline := time.Now().Add(45 * time.Second)
	for {
		b, err := exec.CommandContext(ctx, bin, "--kubeconfig", s.kubeconfig, "top", "node", "top-node").CombinedOutput()
		out = string(b)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	assertTable(t, out, "NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)")
	if f := strings.Fields(lastLine(out)); len(f) != 5 || f[0] != "top-node" || f[1] != "250m" || f[2] != "12%" || f[3] != "512Mi" || f[4] != "12%" {
		t.Errorf("kubectl top node:\n%s", out)
	}

	out = kubectl(t, bin, s.kubeconfig, "", "top", "pod", "-n", "default", "-l", "app=top-web")
	assertTable(t, out, "NAME", "CPU(cores)", "MEMORY(bytes)")
	if f := strings.Fields(lastLine(out)); len(f) != 3 || f[0] != "top-web" || f[1] != "100m" || f[2] != "10Mi" {
		t.Errorf("kubectl top pod:\n%s", out)
	}
	out = kubectl(t, bin, s.kubeconfig, "", "top", "pod", "top-web", "-n", "default", "--containers")
	if f := strings.Fields(lastLine(out)); len(f) != 4 || f[0] != "top-web" || f[1] != "c" || f[2] != "100m" || f[3] != "10Mi" {
		t.Errorf("kubectl top pod --containers:\n%s", out)
	}

	// A pod with no metrics is NotFound, as from metrics-server.
	b, err := exec.CommandContext(ctx, bin, "--kubeconfig", s.kubeconfig, "top", "pod", "nobody", "-n", "default").CombinedOutput()
	if err == nil || !strings.Contains(string(b), "NotFound") && !strings.Contains(string(b), "not found") {
		t.Errorf("kubectl top pod nobody: %v\n%s", err, b)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
