package containerd

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestContainerArgs(t *testing.T) {
	ep, cmd := []string{"/entry"}, []string{"serve"}
	for _, tc := range []struct {
		name          string
		command, args []string
		want          []string
	}{
		{"image defaults", nil, nil, []string{"/entry", "serve"}},
		{"args replace cmd", nil, []string{"run"}, []string{"/entry", "run"}},
		{"command drops entrypoint and cmd", []string{"sh"}, nil, []string{"sh"}},
		{"command and args", []string{"sh"}, []string{"-c", "x"}, []string{"sh", "-c", "x"}},
	} {
		if got := ContainerArgs(ep, cmd, tc.command, tc.args); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSocketPathFitsSunPath(t *testing.T) {
	long := "/tmp/TestAVeryLongTestNameThatGoesOnAndOn1234567890/001/and/more/directories/kubelet"
	if p := SocketPath(long); len(p)+len(".ttrpc") > 107 {
		t.Errorf("socket path %q too long", p)
	}
	if p := SocketPath("/var/lib/kubeseed/kubelet"); p != "/var/lib/kubeseed/kubelet/containerd/containerd.sock" {
		t.Errorf("short root dir socket = %q", p)
	}
	if got, _ := NormalizeImage("busybox"); got != "docker.io/library/busybox:latest" {
		t.Errorf("NormalizeImage(busybox) = %q", got)
	}
}

func TestCgroupValues(t *testing.T) {
	res := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
	}
	if s, q, m := CgroupValues(res); s != 256 || q != 50000 || m != 64<<20 {
		t.Errorf("CgroupValues = %d %d %d, want 256 50000 %d", s, q, m, 64<<20)
	}
	if s, q, m := CgroupValues(corev1.ResourceRequirements{}); s != 0 || q != 0 || m != 0 {
		t.Errorf("no resources = %d %d %d", s, q, m)
	}
	tiny := corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1m")}}
	if s, q, _ := CgroupValues(tiny); s != 2 || q != 1000 {
		t.Errorf("1m cpu = shares %d quota %d, want the minimums 2 and 1000", s, q)
	}
}
