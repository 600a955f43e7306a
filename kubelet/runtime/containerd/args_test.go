package containerd

import (
	"reflect"
	"testing"
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
