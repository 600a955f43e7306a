package scheduler

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// maxNodeScore is the top of every score's 0..100 range, as upstream's.
const maxNodeScore int64 = 100

// Weights of the scores, upstream's defaults: taint toleration 3, preferred
// node affinity 2, least allocated 1, balanced allocation 1.
const (
	weightTaint        = 3
	weightNodeAffinity = 2
	weightFit          = 1
	weightBalanced     = 1
)

// Score ranks the feasible nodes for pod: the higher the better. It adds up
// upstream's default scores: fewer untolerated PreferNoSchedule taints,
// preferred node affinity, the least allocated node (cpu and memory after
// placing the pod) and the most balanced one (cpu and memory used in equal
// shares).
func Score(pod *corev1.Pod, nodes []*NodeInfo) []int64 {
	return score(newPodFit(pod), nodes)
}

func score(f *podFit, nodes []*NodeInfo) []int64 {
	pod := f.pod
	scores := make([]int64, len(nodes))
	taints := make([]int64, len(nodes))
	affinity := make([]int64, len(nodes))
	var preferred *nodeaffinity.PreferredSchedulingTerms
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && len(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution) > 0 {
		preferred, _ = nodeaffinity.NewPreferredSchedulingTerms(a.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	req := f.nonZero
	for i, ni := range nodes {
		taints[i] = countPreferNoSchedule(pod, ni.Node)
		if preferred != nil {
			affinity[i] = preferred.Score(ni.Node)
		}
		scores[i] = weightFit*leastAllocated(req, ni) + weightBalanced*balancedAllocation(req, ni)
	}
	normalize(taints, true)
	normalize(affinity, false)
	for i := range scores {
		scores[i] += weightTaint*taints[i] + weightNodeAffinity*affinity[i]
	}
	return scores
}

// normalize scales raw scores to 0..100 by the largest; reverse makes fewer
// better (for counts of unwanted things).
func normalize(raw []int64, reverse bool) {
	var top int64
	for _, v := range raw {
		top = max(top, v)
	}
	for i, v := range raw {
		switch {
		case top == 0 && reverse:
			raw[i] = maxNodeScore
		case top == 0:
			raw[i] = 0
		case reverse:
			raw[i] = maxNodeScore - v*maxNodeScore/top
		default:
			raw[i] = v * maxNodeScore / top
		}
	}
}

// countPreferNoSchedule counts the node's PreferNoSchedule taints the pod
// does not tolerate.
func countPreferNoSchedule(pod *corev1.Pod, node *corev1.Node) int64 {
	var n int64
	for i := range node.Spec.Taints {
		t := &node.Spec.Taints[i]
		if t.Effect != corev1.TaintEffectPreferNoSchedule {
			continue
		}
		if !corev1helpers.TolerationsTolerateTaint(klog.Background(), pod.Spec.Tolerations, t, false) {
			n++
		}
	}
	return n
}

// leastAllocated scores a node by the share of cpu and memory left free once
// the pod is placed: an empty node scores 100.
func leastAllocated(req Resources, ni *NodeInfo) int64 {
	alloc, _ := ni.allocatable()
	free := func(requested, capacity int64) int64 {
		if capacity == 0 || requested > capacity {
			return 0
		}
		return (capacity - requested) * maxNodeScore / capacity
	}
	cpu := free(ni.NonZeroRequested.MilliCPU+req.MilliCPU, alloc.MilliCPU)
	mem := free(ni.NonZeroRequested.Memory+req.Memory, alloc.Memory)
	return (cpu + mem) / 2
}

// balancedAllocation scores a node by how evenly cpu and memory would be used
// once the pod is placed: 100 when both are used in the same proportion.
func balancedAllocation(req Resources, ni *NodeInfo) int64 {
	alloc, _ := ni.allocatable()
	fraction := func(requested, capacity int64) float64 {
		if capacity == 0 {
			return 1
		}
		return math.Min(1, float64(requested)/float64(capacity))
	}
	cpu := fraction(ni.NonZeroRequested.MilliCPU+req.MilliCPU, alloc.MilliCPU)
	mem := fraction(ni.NonZeroRequested.Memory+req.Memory, alloc.Memory)
	// The standard deviation of two values is half their distance.
	std := math.Abs(cpu-mem) / 2
	return int64((1 - std) * float64(maxNodeScore))
}
