package replicaset

import (
	"sort"

	corev1 "k8s.io/api/core/v1"
)

// phaseOrder ranks phases from least to most valuable to keep.
var phaseOrder = map[corev1.PodPhase]int{corev1.PodPending: 0, corev1.PodUnknown: 1, corev1.PodRunning: 2}

// podsToDelete returns the n least valuable pods, least valuable first. The
// order is upstream's: unscheduled before scheduled; Pending before Unknown
// before Running; not ready before ready; pods on nodes crowded with this
// set's pods first; ready for a shorter time first; more container restarts
// first; newer first.
func podsToDelete(pods []*corev1.Pod, n int) []*corev1.Pod {
	if n <= 0 {
		return nil
	}
	if n > len(pods) {
		n = len(pods)
	}
	perNode := map[string]int{}
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			perNode[p.Spec.NodeName]++
		}
	}
	sorted := append([]*corev1.Pod(nil), pods...)
	sort.SliceStable(sorted, func(i, j int) bool { return lessValuable(sorted[i], sorted[j], perNode) })
	return sorted[:n]
}

// lessValuable reports whether a should be deleted before b.
func lessValuable(a, b *corev1.Pod, perNode map[string]int) bool {
	if (a.Spec.NodeName == "") != (b.Spec.NodeName == "") {
		return a.Spec.NodeName == ""
	}
	if pa, pb := phaseOrder[a.Status.Phase], phaseOrder[b.Status.Phase]; pa != pb {
		return pa < pb
	}
	if ra, rb := IsPodReady(a), IsPodReady(b); ra != rb {
		return !ra
	}
	if a.Spec.NodeName != "" && perNode[a.Spec.NodeName] != perNode[b.Spec.NodeName] {
		return perNode[a.Spec.NodeName] > perNode[b.Spec.NodeName]
	}
	if IsPodReady(a) && IsPodReady(b) {
		ta, tb := readyCondition(a).LastTransitionTime, readyCondition(b).LastTransitionTime
		if !ta.Equal(&tb) {
			return tb.Before(&ta)
		}
	}
	if ca, cb := restarts(a), restarts(b); ca != cb {
		return ca > cb
	}
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return b.CreationTimestamp.Before(&a.CreationTimestamp)
	}
	return a.Name > b.Name
}

// restarts is the highest restart count among the pod's containers.
func restarts(p *corev1.Pod) int32 {
	var max int32
	for _, s := range p.Status.ContainerStatuses {
		if s.RestartCount > max {
			max = s.RestartCount
		}
	}
	return max
}
