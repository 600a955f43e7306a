package stats

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
	"github.com/kubeseed/kubeseed/kubelet/runtime/simulated"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNodeReadsThisMachine reads the real /proc: a running machine has used
// some CPU and some memory, and less memory than it has.
func TestNodeReadsThisMachine(t *testing.T) {
	u, err := Node("")
	if err != nil {
		t.Fatal(err)
	}
	total, err := keyed("/proc/meminfo")
	if err != nil {
		t.Fatal(err)
	}
	if u.CPUSeconds <= 0 || u.WorkingSetBytes == 0 || u.WorkingSetBytes > total["MemTotal:"]*1024 {
		t.Errorf("node usage %+v (MemTotal %d kB)", u, total["MemTotal:"])
	}
}

func TestNodeFromProc(t *testing.T) {
	proc := t.TempDir()
	// user nice system idle iowait irq softirq steal guest guest_nice
	write(t, filepath.Join(proc, "stat"), "cpu  1000 50 250 90000 300 10 40 0 77 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
	write(t, filepath.Join(proc, "meminfo"), "MemTotal:       1000000 kB\nMemFree:         400000 kB\nInactive(file):  100000 kB\n")
	u, err := Node(proc)
	if err != nil {
		t.Fatal(err)
	}
	if u.CPUSeconds != 13.5 { // (1000+50+250+10+40+0)/100
		t.Errorf("cpu = %v, want 13.5", u.CPUSeconds)
	}
	if u.WorkingSetBytes != 500000*1024 {
		t.Errorf("working set = %d, want %d", u.WorkingSetBytes, 500000*1024)
	}
	write(t, filepath.Join(proc, "stat"), "intr 1 2 3\n")
	if _, err := Node(proc); err == nil {
		t.Error("a /proc/stat without a cpu line must be an error")
	}
}

func TestCgroupsV1AndV2(t *testing.T) {
	v1 := t.TempDir()
	rel := filepath.Join("kubeseed", "poduid-1", "ctr-a")
	write(t, filepath.Join(v1, "cpuacct", rel, "cpuacct.usage"), "2500000000\n")
	write(t, filepath.Join(v1, "memory", rel, "memory.usage_in_bytes"), "10485760\n")
	write(t, filepath.Join(v1, "memory", rel, "memory.stat"), "cache 100\ntotal_inactive_file 2097152\n")
	u, err := Cgroups{Root: v1}.Container("uid-1", "ctr-a")
	if err != nil {
		t.Fatal(err)
	}
	if u.CPUSeconds != 2.5 || u.WorkingSetBytes != 8<<20 {
		t.Errorf("v1 usage %+v, want 2.5 s and 8 MiB", u)
	}

	v2 := t.TempDir()
	write(t, filepath.Join(v2, "cgroup.controllers"), "cpu memory\n")
	write(t, filepath.Join(v2, rel, "cpu.stat"), "usage_usec 1500000\nuser_usec 1000000\n")
	write(t, filepath.Join(v2, rel, "memory.current"), "4194304\n")
	write(t, filepath.Join(v2, rel, "memory.stat"), "anon 1\ninactive_file 1048576\n")
	u, err = Cgroups{Root: v2}.Container("uid-1", "ctr-a")
	if err != nil {
		t.Fatal(err)
	}
	if u.CPUSeconds != 1.5 || u.WorkingSetBytes != 3<<20 {
		t.Errorf("v2 usage %+v, want 1.5 s and 3 MiB", u)
	}
	if _, err := (Cgroups{Root: v2}).Container("uid-1", "gone"); err == nil {
		t.Error("a missing cgroup must be an error")
	}
}

// runningRuntime is the simulated runtime with one pod's container running.
func runningRuntime(t *testing.T, pod *corev1.Pod) kruntime.Runtime {
	t.Helper()
	rt, err := simulated.New(simulated.Config{PodCIDR: "10.244.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sb, err := rt.EnsureSandbox(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, kruntime.StartRequest{Pod: pod, Container: &pod.Spec.Containers[0], Sandbox: sb}); err != nil {
		t.Fatal(err)
	}
	return rt
}

func TestHandlerServesUpstreamNames(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "echo", UID: types.UID("uid-1")},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "busybox"}}}}
	rt := runningRuntime(t, pod)
	ctrs, err := rt.Containers(context.Background(), pod.UID)
	if err != nil || len(ctrs) != 1 {
		t.Fatalf("containers %v %v", ctrs, err)
	}
	root := t.TempDir()
	for _, rel := range []string{filepath.Join("kubeseed", "poduid-1", ctrs[0].ID), filepath.Join("kubeseed", "poduid-1")} {
		write(t, filepath.Join(root, "cpuacct", rel, "cpuacct.usage"), "2000000000\n")
		write(t, filepath.Join(root, "memory", rel, "memory.usage_in_bytes"), "3145728\n")
		write(t, filepath.Join(root, "memory", rel, "memory.stat"), "total_inactive_file 1048576\n")
	}
	src := &Source{Cgroups: Cgroups{Root: root}, Runtime: rt, Pods: func() []*corev1.Pod { return []*corev1.Pod{pod} }}
	rec := httptest.NewRecorder()
	src.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics/resource", nil))
	body, _ := io.ReadAll(rec.Body)
	out := string(body)
	for _, want := range []string{
		"# TYPE node_cpu_usage_seconds_total counter",
		"# TYPE node_memory_working_set_bytes gauge",
		`container_cpu_usage_seconds_total{container="web",namespace="default",pod="echo"} 2 `,
		`container_memory_working_set_bytes{container="web",namespace="default",pod="echo"} 2.097152e+06 `,
		`pod_cpu_usage_seconds_total{namespace="default",pod="echo"} 2 `,
		`pod_memory_working_set_bytes{namespace="default",pod="echo"} 2.097152e+06 `,
		`container_start_time_seconds{container="web",namespace="default",pod="echo"}`,
		"resource_scrape_error 0",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q:\n%s", want, out)
		}
	}
	// Samples carry the time they were read, as the kubelet's do.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "container_cpu_usage_seconds_total{") {
			f := strings.Fields(line)
			if len(f) != 3 || !strings.HasPrefix(f[2], "1") || len(f[2]) != len("1700000000000") {
				t.Errorf("sample without a millisecond timestamp: %q", line)
			}
		}
	}
}
