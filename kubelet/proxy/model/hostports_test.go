package model

import (
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestFromHostPorts(t *testing.T) {
	pod := func(mutate func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "ingress"},
			Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{
				{Name: "http", ContainerPort: 8080, HostPort: 80},
				{Name: "dns", ContainerPort: 5353, HostPort: 53, Protocol: corev1.ProtocolUDP, HostIP: "127.0.0.1"},
				{Name: "metrics", ContainerPort: 9090}, // no host port: nothing to map
			}}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.244.0.7"},
		}
		if mutate != nil {
			mutate(p)
		}
		return p
	}
	got := FromHostPorts(pod(nil))
	if got == nil || got.Name != HostPortsName("web", "ingress") || !IsHostPorts(got.Name) || len(got.Ports) != 2 {
		t.Fatalf("FromHostPorts = %+v", got)
	}
	backend := func(port uint16) []Backend {
		return []Backend{{IP: netip.MustParseAddr("10.244.0.7"), Port: port, Ready: true, Serving: true, NodeName: "n1"}}
	}
	want := &Service{Name: HostPortsName("web", "ingress"), Ports: []Port{
		{Name: "http", Frontend: Frontend{Port: 80, Protocol: TCP}, NodePort: 80, NodePortBackends: backend(8080)},
		{Name: "dns", Frontend: Frontend{Port: 53, Protocol: UDP}, NodePort: 53, NodePortBackends: backend(5353), HostIP: netip.MustParseAddr("127.0.0.1")},
	}}
	if !got.Equal(want) {
		t.Errorf("FromHostPorts =\n%+v\nwant\n%+v", got, want)
	}
	if got.Ports[0].Frontend.IP.IsValid() {
		t.Errorf("a host port has no cluster IP frontend: %v", got.Ports[0].Frontend)
	}

	for name, p := range map[string]*corev1.Pod{
		"no address yet": pod(func(p *corev1.Pod) { p.Status.PodIP = "" }),
		"succeeded":      pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
		"failed":         pod(func(p *corev1.Pod) { p.Status.Phase = corev1.PodFailed }),
		"host network":   pod(func(p *corev1.Pod) { p.Spec.HostNetwork = true }),
		"no host ports":  pod(func(p *corev1.Pod) { p.Spec.Containers[0].Ports = p.Spec.Containers[0].Ports[2:] }),
	} {
		if got := FromHostPorts(p); got != nil {
			t.Errorf("%s: FromHostPorts = %+v, want nil", name, got)
		}
	}
	// hostIP 0.0.0.0 means every address, as no hostIP.
	all := FromHostPorts(pod(func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].HostIP = "0.0.0.0" }))
	if all.Ports[0].HostIP.IsValid() {
		t.Errorf("hostIP 0.0.0.0 kept as %v", all.Ports[0].HostIP)
	}
	// A sidecar's host ports count.
	side := FromHostPorts(pod(func(p *corev1.Pod) {
		p.Spec.InitContainers = []corev1.Container{{Name: "s", Ports: []corev1.ContainerPort{{ContainerPort: 15000, HostPort: 15000}}}}
	}))
	if len(side.Ports) != 3 || side.Ports[0].NodePort != 15000 {
		t.Errorf("sidecar host port: %+v", side.Ports)
	}
}
