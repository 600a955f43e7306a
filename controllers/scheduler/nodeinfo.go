package scheduler

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Upstream's scheduler counts containers that request nothing as asking for
// this much when scoring (not when filtering), so empty pods still spread.
const (
	defaultMilliCPURequest int64 = 100
	defaultMemoryRequest   int64 = 200 * 1024 * 1024
)

// Resources is an amount of each schedulable resource, in the units the
// scheduler compares: millicores for cpu, bytes for memory and storage, and
// plain counts for extended resources.
type Resources struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	// Scalar holds extended resources (example.com/gpu, hugepages-*).
	Scalar map[corev1.ResourceName]int64
}

// resourcesFromList converts a ResourceList, ignoring the pods count.
func resourcesFromList(rl corev1.ResourceList) Resources {
	var r Resources
	for name, q := range rl {
		switch name {
		case corev1.ResourceCPU:
			r.MilliCPU += q.MilliValue()
		case corev1.ResourceMemory:
			r.Memory += q.Value()
		case corev1.ResourceEphemeralStorage:
			r.EphemeralStorage += q.Value()
		case corev1.ResourcePods:
		default:
			if isScalarResource(name) {
				if r.Scalar == nil {
					r.Scalar = map[corev1.ResourceName]int64{}
				}
				r.Scalar[name] += q.Value()
			}
		}
	}
	return r
}

// isScalarResource says whether a resource name is one the scheduler counts
// beyond cpu, memory and storage: extended resources (a domain-qualified name
// outside kubernetes.io), hugepages, and kubernetes.io-prefixed native ones.
func isScalarResource(name corev1.ResourceName) bool {
	s := string(name)
	if strings.HasPrefix(s, corev1.ResourceHugePagesPrefix) {
		return true
	}
	domain, _, qualified := strings.Cut(s, "/")
	if !qualified {
		return false
	}
	// requests.* names belong to quotas, never to nodes.
	return !strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix) || domain == "kubernetes.io"
}

func (r *Resources) add(o Resources) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.EphemeralStorage += o.EphemeralStorage
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = map[corev1.ResourceName]int64{}
		}
		r.Scalar[k] += v
	}
}

func (r *Resources) sub(o Resources) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.EphemeralStorage -= o.EphemeralStorage
	for k, v := range o.Scalar {
		if r.Scalar != nil {
			r.Scalar[k] -= v
		}
	}
}

// PodRequests is what a pod asks of a node: the larger of its app containers'
// sum and each init container's request (restartable sidecars stay counted),
// plus overhead and pod-level requests, as the API defines effective requests.
func PodRequests(pod *corev1.Pod) Resources {
	return resourcesFromList(resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{}))
}

// podNonZeroRequests is PodRequests with upstream's scoring defaults for
// containers that leave cpu or memory unset.
func podNonZeroRequests(pod *corev1.Pod) Resources {
	return resourcesFromList(resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{
		NonMissingContainerRequests: corev1.ResourceList{
			corev1.ResourceCPU:    *resource.NewMilliQuantity(defaultMilliCPURequest, resource.DecimalSI),
			corev1.ResourceMemory: *resource.NewQuantity(defaultMemoryRequest, resource.BinarySI),
		},
	}))
}

// hostPort is one port a pod takes on its node's addresses.
type hostPort struct {
	IP       string
	Protocol corev1.Protocol
	Port     int32
}

// podHostPorts lists the host ports a pod's containers ask for.
func podHostPorts(pod *corev1.Pod) []hostPort {
	var out []hostPort
	add := func(cs []corev1.Container) {
		for _, c := range cs {
			for _, p := range c.Ports {
				if p.HostPort <= 0 {
					continue
				}
				ip := p.HostIP
				if ip == "" {
					ip = "0.0.0.0"
				}
				proto := p.Protocol
				if proto == "" {
					proto = corev1.ProtocolTCP
				}
				out = append(out, hostPort{IP: ip, Protocol: proto, Port: p.HostPort})
			}
		}
	}
	add(pod.Spec.InitContainers)
	add(pod.Spec.Containers)
	return out
}

// NodeInfo is a node with the pods the scheduler counts against it: bound,
// non-terminal pods and pods assumed onto it while their binding is in flight.
type NodeInfo struct {
	Node *corev1.Node
	// Pods are keyed by UID so an assumed pod and its bound copy are one.
	Pods map[types.UID]*corev1.Pod
	// Requested sums PodRequests of Pods; NonZeroRequested sums the scoring view.
	Requested        Resources
	NonZeroRequested Resources
	// UsedPorts counts each host port taken by Pods.
	UsedPorts map[hostPort]int
	// AntiAffinityPods are the Pods with required anti-affinity terms, which
	// every incoming pod must be checked against.
	AntiAffinityPods map[types.UID]*corev1.Pod

	// alloc and allowedPods cache Node's allocatable, parsed for allocFor.
	alloc       Resources
	allowedPods int64
	allocFor    *corev1.Node
}

// NewNodeInfo returns a NodeInfo for node holding pods.
func NewNodeInfo(node *corev1.Node, pods ...*corev1.Pod) *NodeInfo {
	ni := &NodeInfo{Node: node, Pods: map[types.UID]*corev1.Pod{}, UsedPorts: map[hostPort]int{}, AntiAffinityPods: map[types.UID]*corev1.Pod{}}
	for _, p := range pods {
		ni.AddPod(p)
	}
	return ni
}

// AddPod counts pod on the node; adding a pod twice replaces it.
func (ni *NodeInfo) AddPod(pod *corev1.Pod) {
	if _, ok := ni.Pods[pod.UID]; ok {
		ni.RemovePod(pod)
	}
	ni.Pods[pod.UID] = pod
	ni.Requested.add(PodRequests(pod))
	ni.NonZeroRequested.add(podNonZeroRequests(pod))
	for _, hp := range podHostPorts(pod) {
		ni.UsedPorts[hp]++
	}
	if len(requiredAntiAffinity(pod)) > 0 {
		ni.AntiAffinityPods[pod.UID] = pod
	}
}

// RemovePod stops counting the pod with pod's UID.
func (ni *NodeInfo) RemovePod(pod *corev1.Pod) {
	old, ok := ni.Pods[pod.UID]
	if !ok {
		return
	}
	delete(ni.Pods, pod.UID)
	delete(ni.AntiAffinityPods, pod.UID)
	ni.Requested.sub(PodRequests(old))
	ni.NonZeroRequested.sub(podNonZeroRequests(old))
	for _, hp := range podHostPorts(old) {
		if ni.UsedPorts[hp]--; ni.UsedPorts[hp] <= 0 {
			delete(ni.UsedPorts, hp)
		}
	}
}

// allocatable is the node's allocatable resources and pod count.
// It is parsed once per node object, not once per pod and node.
func (ni *NodeInfo) allocatable() (Resources, int64) {
	if ni.allocFor != ni.Node {
		ni.alloc = resourcesFromList(ni.Node.Status.Allocatable)
		ni.allowedPods = ni.Node.Status.Allocatable.Pods().Value()
		ni.allocFor = ni.Node
	}
	return ni.alloc, ni.allowedPods
}
