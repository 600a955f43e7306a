package endpoints

import (
	"fmt"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func testPod(name, ip string, ready bool, mods ...func(*corev1.Pod)) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID(name)},
		Spec: corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{
			Name: "app", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		}}},
		Status: corev1.PodStatus{
			Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}},
		},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func addr(name, ip string) corev1.EndpointAddress {
	return corev1.EndpointAddress{IP: ip, NodeName: new("node-1"),
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: "ns", Name: name, UID: types.UID(name)}}
}

func TestDesired(t *testing.T) {
	svc := func(mods ...func(*corev1.Service)) *corev1.Service {
		s := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", Labels: map[string]string{"team": "a"}},
			Spec: corev1.ServiceSpec{
				Selector: map[string]string{"app": "web"},
				Ports:    []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("http")}},
			},
		}
		for _, m := range mods {
			m(s)
		}
		return s
	}
	port8080 := []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}}
	otherPort := func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 9090 }
	tests := []struct {
		name string
		svc  *corev1.Service
		pods []*corev1.Pod
		want []corev1.EndpointSubset
	}{
		{"ready and not ready", svc(), []*corev1.Pod{testPod("b", "10.0.0.2", true), testPod("a", "10.0.0.1", true), testPod("c", "10.0.0.3", false)},
			[]corev1.EndpointSubset{{
				Addresses:         []corev1.EndpointAddress{addr("a", "10.0.0.1"), addr("b", "10.0.0.2")},
				NotReadyAddresses: []corev1.EndpointAddress{addr("c", "10.0.0.3")},
				Ports:             port8080,
			}}},
		{"publishNotReadyAddresses", svc(func(s *corev1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			[]*corev1.Pod{testPod("c", "10.0.0.3", false)},
			[]corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("c", "10.0.0.3")}, Ports: port8080}}},
		{"no IP yet, terminal and terminating pods left out", svc(), []*corev1.Pod{
			testPod("noip", "", true),
			testPod("done", "10.0.0.4", true, func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
			testPod("going", "10.0.0.5", true, func(p *corev1.Pod) { p.DeletionTimestamp = &metav1.Time{} }),
		}, nil},
		{"named port resolved per pod", svc(), []*corev1.Pod{testPod("a", "10.0.0.1", true), testPod("b", "10.0.0.2", true, otherPort)},
			[]corev1.EndpointSubset{
				{Addresses: []corev1.EndpointAddress{addr("a", "10.0.0.1")}, Ports: port8080},
				{Addresses: []corev1.EndpointAddress{addr("b", "10.0.0.2")}, Ports: []corev1.EndpointPort{{Name: "http", Port: 9090, Protocol: corev1.ProtocolTCP}}},
			}},
		{"pod without the named port", svc(), []*corev1.Pod{testPod("a", "10.0.0.1", true, func(p *corev1.Pod) { p.Spec.Containers[0].Ports = nil })}, nil},
		{"headless without ports", svc(func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone; s.Spec.Ports = nil }),
			[]*corev1.Pod{testPod("a", "10.0.0.1", true)},
			[]corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{addr("a", "10.0.0.1")}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Desired(tt.svc, tt.pods)
			if !reflect.DeepEqual(got.Subsets, tt.want) {
				t.Errorf("subsets:\n got %+v\nwant %+v", got.Subsets, tt.want)
			}
			if got.Labels["team"] != "a" || got.Labels["endpoints.kubernetes.io/managed-by"] != "endpoint-controller" {
				t.Errorf("labels %v: want the service's labels and managed-by", got.Labels)
			}
			_, headless := got.Labels[LabelHeadless]
			if headless != (tt.svc.Spec.ClusterIP == corev1.ClusterIPNone || tt.svc.Spec.ClusterIP == "") {
				t.Errorf("headless label %v for clusterIP %q", headless, tt.svc.Spec.ClusterIP)
			}
		})
	}
}

func TestDesiredTruncatesAtCapacity(t *testing.T) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "big"}, Spec: corev1.ServiceSpec{
		Selector: map[string]string{"app": "big"},
		Ports:    []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)}},
	}}
	var pods []*corev1.Pod
	for i := range MaxAddresses + 5 {
		pods = append(pods, testPod(fmt.Sprintf("p%d", i), fmt.Sprintf("10.1.%d.%d", i/250, i%250+1), true))
	}
	got := Desired(svc, pods)
	n := 0
	for _, s := range got.Subsets {
		n += len(s.Addresses) + len(s.NotReadyAddresses)
	}
	if n != MaxAddresses || got.Annotations[AnnotationOverCapacity] != "truncated" {
		t.Errorf("%d addresses, annotations %v: want %d and over-capacity=truncated", n, got.Annotations, MaxAddresses)
	}
}
