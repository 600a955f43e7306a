package model

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// hostPortsPrefix starts the namespace of the service a pod's host ports
// form: no Service has it, as namespace names hold no '/'.
const hostPortsPrefix = "hostports/"

// HostPortsName names the service a pod's host ports form.
func HostPortsName(namespace, pod string) ServiceName {
	return ServiceName{Namespace: hostPortsPrefix + namespace, Name: pod}
}

// IsHostPorts reports whether a service name is a pod's host ports.
func IsHostPorts(n ServiceName) bool { return strings.HasPrefix(n.Namespace, hostPortsPrefix) }

// FromHostPorts models the host ports of a pod on this node as upstream's
// portmap CNI plugin maps them: each container port with a hostPort answers at
// the node's addresses (or at its hostIP only) and leads to the pod's address
// and containerPort. It returns nil when there is nothing to map: no host
// ports, no pod address yet, a finished pod, or a pod in the node's network,
// whose processes bind the host port themselves.
func FromHostPorts(pod *corev1.Pod) *Service {
	if pod.Spec.HostNetwork || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil
	}
	ip, err := netip.ParseAddr(pod.Status.PodIP)
	if err != nil || !ip.Is4() {
		return nil
	}
	out := &Service{Name: HostPortsName(pod.Namespace, pod.Name)}
	add := func(cs []corev1.Container) {
		for _, c := range cs {
			for _, p := range c.Ports {
				if p.HostPort <= 0 || p.HostPort > 65535 || p.ContainerPort <= 0 || p.ContainerPort > 65535 {
					continue
				}
				proto := Protocol(p.Protocol)
				if proto == "" {
					proto = TCP
				}
				var hostIP netip.Addr
				if a, err := netip.ParseAddr(p.HostIP); err == nil && a.Is4() && !a.IsUnspecified() {
					hostIP = a
				}
				backend := Backend{IP: ip, Port: uint16(p.ContainerPort), Ready: true, Serving: true, NodeName: pod.Spec.NodeName}
				out.Ports = append(out.Ports, Port{
					Name:             p.Name,
					Frontend:         Frontend{Port: uint16(p.HostPort), Protocol: proto},
					NodePort:         uint16(p.HostPort),
					NodePortBackends: []Backend{backend},
					HostIP:           hostIP,
				})
			}
		}
	}
	add(pod.Spec.InitContainers) // sidecars may have host ports too
	add(pod.Spec.Containers)
	if len(out.Ports) == 0 {
		return nil
	}
	return out
}
