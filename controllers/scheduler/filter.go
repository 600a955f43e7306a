package scheduler

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// Reasons a node is rejected, in upstream's words: they end up in the
// PodScheduled condition and the FailedScheduling event, where users and
// tools grep for them.
const (
	ReasonNodeName          = "node(s) didn't match the requested node name"
	ReasonUnschedulable     = "node(s) were unschedulable"
	ReasonUntoleratedTaint  = "node(s) had untolerated taint(s)"
	ReasonNodeAffinity      = "node(s) didn't match Pod's node affinity/selector"
	ReasonHostPorts         = "node(s) didn't have free ports for the requested pod ports"
	ReasonTooManyPods       = "Too many pods"
	ReasonAffinity          = "node(s) didn't match pod affinity rules"
	ReasonAntiAffinity      = "node(s) didn't match pod anti-affinity rules"
	ReasonExistingAntiAff   = "node(s) didn't satisfy existing pods anti-affinity rules"
	ReasonSpread            = "node(s) didn't match pod topology spread constraints"
	ReasonSpreadMissingNode = ReasonSpread + " (missing required label)"
)

// insufficient is upstream's reason for a resource the node lacks.
func insufficient(name corev1.ResourceName) string {
	return fmt.Sprintf("Insufficient %v", name)
}

// Filter says why pod cannot run on the node of ni, or nil when it can. Like
// upstream's filter plugins it checks, in order, the requested node name,
// spec.unschedulable, taints, node selector and affinity, host ports and
// resources, and stops at the first check that fails; only the resource check
// gives several reasons at once (one per insufficient resource).
func Filter(pod *corev1.Pod, ni *NodeInfo) []string {
	return newPodFit(pod).filter(ni)
}

// podFit is what the filters need to know about a pod, worked out once per
// scheduling attempt rather than once per node.
type podFit struct {
	pod      *corev1.Pod
	req      Resources
	nonZero  Resources
	ports    []hostPort
	affinity nodeaffinity.RequiredNodeAffinity
}

func newPodFit(pod *corev1.Pod) *podFit {
	return &podFit{
		pod:      pod,
		req:      PodRequests(pod),
		nonZero:  podNonZeroRequests(pod),
		ports:    podHostPorts(pod),
		affinity: nodeaffinity.GetRequiredNodeAffinity(pod),
	}
}

func (f *podFit) filter(ni *NodeInfo) []string {
	pod, node := f.pod, ni.Node
	if pod.Spec.NodeName != "" && pod.Spec.NodeName != node.Name {
		return []string{ReasonNodeName}
	}
	if node.Spec.Unschedulable && !corev1helpers.TolerationsTolerateTaint(klog.Background(), pod.Spec.Tolerations,
		&corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}, false) {
		return []string{ReasonUnschedulable}
	}
	if _, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), effectiveTaints(node), pod.Spec.Tolerations,
		func(t *corev1.Taint) bool {
			return t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute
		}, false); untolerated {
		return []string{ReasonUntoleratedTaint}
	}
	if ok, _ := f.affinity.Match(node); !ok {
		return []string{ReasonNodeAffinity}
	}
	for _, hp := range f.ports {
		if ni.portTaken(hp) {
			return []string{ReasonHostPorts}
		}
	}
	return fitsResources(f.req, ni)
}

// effectiveTaints is the node's taints plus node.kubernetes.io/not-ready when
// its Ready condition is not True. Upstream's node lifecycle controller puts
// that taint on such nodes and the scheduler then keeps pods off them unless
// they tolerate it (as DaemonSet pods do); assuming it here gives the same
// placement even when no lifecycle controller runs, or before it has acted.
func effectiveTaints(node *corev1.Node) []corev1.Taint {
	if nodeReady(node) {
		return node.Spec.Taints
	}
	for _, t := range node.Spec.Taints {
		if t.Key == corev1.TaintNodeNotReady || t.Key == corev1.TaintNodeUnreachable {
			return node.Spec.Taints
		}
	}
	taints := append([]corev1.Taint{}, node.Spec.Taints...)
	return append(taints, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule})
}

// nodeReady says whether the node reports Ready=True.
func nodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// portTaken says whether another pod on the node holds hp: the same protocol
// and port on the same address, or on any address when either side binds
// 0.0.0.0.
func (ni *NodeInfo) portTaken(hp hostPort) bool {
	for used := range ni.UsedPorts {
		if used.Protocol != hp.Protocol || used.Port != hp.Port {
			continue
		}
		if used.IP == hp.IP || used.IP == "0.0.0.0" || hp.IP == "0.0.0.0" {
			return true
		}
	}
	return false
}

// fitsResources compares the pod's requests with what the node has left.
func fitsResources(req Resources, ni *NodeInfo) []string {
	var reasons []string
	alloc, allowedPods := ni.allocatable()
	if int64(len(ni.Pods))+1 > allowedPods {
		reasons = append(reasons, ReasonTooManyPods)
	}
	if req.MilliCPU > 0 && req.MilliCPU > alloc.MilliCPU-ni.Requested.MilliCPU {
		reasons = append(reasons, insufficient(corev1.ResourceCPU))
	}
	if req.Memory > 0 && req.Memory > alloc.Memory-ni.Requested.Memory {
		reasons = append(reasons, insufficient(corev1.ResourceMemory))
	}
	if req.EphemeralStorage > 0 && req.EphemeralStorage > alloc.EphemeralStorage-ni.Requested.EphemeralStorage {
		reasons = append(reasons, insufficient(corev1.ResourceEphemeralStorage))
	}
	for name, want := range req.Scalar {
		if want > 0 && want > alloc.Scalar[name]-ni.Requested.Scalar[name] {
			reasons = append(reasons, insufficient(name))
		}
	}
	return reasons
}
