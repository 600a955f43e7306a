package endpoints

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/endpointslice"
	endpointsliceutil "k8s.io/endpointslice/util"
)

// Labels and annotations upstream's endpoints controller sets.
const (
	// LabelHeadless marks the Endpoints of a Service with clusterIP None.
	LabelHeadless = corev1.IsHeadlessService
	// AnnotationOverCapacity says the Endpoints were cut to MaxAddresses.
	AnnotationOverCapacity = corev1.EndpointsOverCapacity
	// LabelManagedBy names the controller that writes an Endpoints object,
	// upstream's key and value.
	LabelManagedBy          = "endpoints.kubernetes.io/managed-by"
	EndpointsControllerName = "endpoint-controller"
	// MaxAddresses is the most addresses one Endpoints object holds.
	MaxAddresses = 1000
)

// Desired is the Endpoints object upstream's endpoints controller would write
// for svc and the pods its selector matches: ready pods under addresses,
// others (or all, with publishNotReadyAddresses) under notReadyAddresses,
// grouped into subsets by the ports each pod resolves (named targetPorts are
// looked up per pod; a pod lacking one is left out of that port).
func Desired(svc *corev1.Service, pods []*corev1.Pod) *corev1.Endpoints {
	type addr struct {
		address corev1.EndpointAddress
		ready   bool
	}
	bySet := map[string][]addr{}
	portsBySet := map[string][]corev1.EndpointPort{}
	headlessNoPorts := len(svc.Spec.Ports) == 0 && svc.Spec.ClusterIP == corev1.ClusterIPNone
	for _, pod := range pods {
		if !endpointsliceutil.ShouldPodBeInEndpoints(pod, svc.Spec.PublishNotReadyAddresses) {
			continue
		}
		ip := podIPv4(pod)
		if ip == "" {
			continue
		}
		a := corev1.EndpointAddress{
			IP: ip,
			TargetRef: &corev1.ObjectReference{
				Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
			},
		}
		if pod.Spec.NodeName != "" {
			a.NodeName = new(pod.Spec.NodeName)
		}
		if endpointsliceutil.ShouldSetHostname(pod, svc) {
			a.Hostname = pod.Spec.Hostname
		}
		ready := svc.Spec.PublishNotReadyAddresses || endpointsliceutil.IsPodReady(pod)
		var ports []corev1.EndpointPort
		if !headlessNoPorts {
			for i := range svc.Spec.Ports {
				sp := &svc.Spec.Ports[i]
				num, err := endpointslice.FindPort(pod, sp)
				if err != nil {
					continue
				}
				ports = append(ports, corev1.EndpointPort{Name: sp.Name, Port: int32(num), Protocol: sp.Protocol, AppProtocol: sp.AppProtocol})
			}
			if len(ports) == 0 {
				continue
			}
		}
		sortPorts(ports)
		key := portsKey(ports)
		bySet[key] = append(bySet[key], addr{address: a, ready: ready})
		portsBySet[key] = ports
	}

	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name, Labels: desiredLabels(svc)},
	}
	keys := make([]string, 0, len(bySet))
	for k := range bySet {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	total := 0
	for _, k := range keys {
		subset := corev1.EndpointSubset{Ports: portsBySet[k]}
		for _, a := range bySet[k] {
			if total >= MaxAddresses {
				break
			}
			total++
			if a.ready {
				subset.Addresses = append(subset.Addresses, a.address)
			} else {
				subset.NotReadyAddresses = append(subset.NotReadyAddresses, a.address)
			}
		}
		sortAddresses(subset.Addresses)
		sortAddresses(subset.NotReadyAddresses)
		if len(subset.Addresses)+len(subset.NotReadyAddresses) > 0 {
			ep.Subsets = append(ep.Subsets, subset)
		}
	}
	count := 0
	for _, k := range keys {
		count += len(bySet[k])
	}
	if count > MaxAddresses {
		ep.Annotations = map[string]string{AnnotationOverCapacity: "truncated"}
	}
	return ep
}

// desiredLabels copies the Service's labels, marks headless Services (no
// cluster IP) and names the managing controller.
func desiredLabels(svc *corev1.Service) map[string]string {
	labels := map[string]string{}
	for k, v := range svc.Labels {
		labels[k] = v
	}
	labels[LabelManagedBy] = EndpointsControllerName
	if svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "" {
		labels[LabelHeadless] = ""
	} else {
		delete(labels, LabelHeadless)
	}
	return labels
}

// podIPv4 is the pod's IPv4 address, the family this controller publishes.
func podIPv4(pod *corev1.Pod) string {
	for _, ip := range pod.Status.PodIPs {
		if !strings.Contains(ip.IP, ":") {
			return ip.IP
		}
	}
	if pod.Status.PodIP != "" && !strings.Contains(pod.Status.PodIP, ":") {
		return pod.Status.PodIP
	}
	return ""
}

func sortPorts(ports []corev1.EndpointPort) {
	sort.Slice(ports, func(i, j int) bool {
		if ports[i].Name != ports[j].Name {
			return ports[i].Name < ports[j].Name
		}
		if ports[i].Port != ports[j].Port {
			return ports[i].Port < ports[j].Port
		}
		return ports[i].Protocol < ports[j].Protocol
	})
}

func portsKey(ports []corev1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ports {
		fmt.Fprintf(&b, "%s/%s/%d,", p.Name, p.Protocol, p.Port)
	}
	return b.String()
}

func sortAddresses(addrs []corev1.EndpointAddress) {
	sort.Slice(addrs, func(i, j int) bool {
		if addrs[i].IP != addrs[j].IP {
			return addrs[i].IP < addrs[j].IP
		}
		return addrs[i].TargetRef != nil && addrs[j].TargetRef != nil && addrs[i].TargetRef.UID < addrs[j].TargetRef.UID
	})
}

// needsUpdate says whether the stored Endpoints differ from the desired ones
// in what this controller owns.
func needsUpdate(cur, want *corev1.Endpoints) bool {
	return !equality.Semantic.DeepEqual(cur.Subsets, want.Subsets) ||
		!equality.Semantic.DeepEqual(nonNil(cur.Labels), nonNil(want.Labels)) ||
		cur.Annotations[AnnotationOverCapacity] != want.Annotations[AnnotationOverCapacity]
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
