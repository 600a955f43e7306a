package scheduler

import (
	corev1 "k8s.io/api/core/v1"
)

// FindNode runs the filters over nodes and scores the ones that pass,
// returning the best node's name. Among equally good nodes tieBreak(n) picks
// one of the n (upstream picks at random, which spreads a burst of identical
// pods). When no node passes it returns "" and how many nodes gave each reason.
func FindNode(pod *corev1.Pod, nodes []*NodeInfo, tieBreak func(n int) int) (string, map[string]int) {
	name, reasons, _ := findNode(pod, nil, nodes, len(nodes), tieBreak)
	return name, reasons
}

// NumFeasibleNodesToFind is how many feasible nodes are enough to pick from,
// upstream's adaptive percentageOfNodesToScore: all of them in clusters of
// up to 100 nodes, then a share falling from 50% towards 5% as clusters grow
// (10% of 5000 nodes), never fewer than 100.
func NumFeasibleNodesToFind(numNodes int) int {
	const minFeasible, minPercent = 100, 5
	if numNodes <= minFeasible {
		return numNodes
	}
	percent := max(50-numNodes/125, minPercent)
	return max(numNodes*percent/100, minFeasible)
}

// findNode is FindNode that stops filtering once enough feasible nodes are
// found, and says how many nodes it looked at so the next pod can start
// where this one stopped.
// vols, when the pod has claims, adds upstream's VolumeBinding check.
func findNode(pod *corev1.Pod, vols *PodVolumes, nodes []*NodeInfo, enough int, tieBreak func(n int) int) (string, map[string]int, int) {
	fit := newPodFit(pod)
	cluster := newClusterState(pod, nodes)
	feasible := make([]*NodeInfo, 0, min(len(nodes), enough))
	reasons := map[string]int{}
	processed := 0
	for _, ni := range nodes {
		if len(feasible) >= enough {
			break
		}
		processed++
		rs := fit.filter(ni)
		if len(rs) == 0 {
			rs = vols.filter(ni.Node)
		}
		if len(rs) == 0 {
			rs = cluster.filter(ni)
		}
		if len(rs) > 0 {
			for _, r := range rs {
				reasons[r]++
			}
			continue
		}
		feasible = append(feasible, ni)
	}
	if len(feasible) == 0 {
		return "", reasons, processed
	}
	scores := score(fit, feasible)
	if len(feasible) > 1 {
		softScore(pod, nodes, feasible, scores)
	}
	var best []int
	var top int64 = -1
	for i, s := range scores {
		switch {
		case s > top:
			top = s
			best = append(best[:0], i)
		case s == top:
			best = append(best, i)
		}
	}
	pick := 0
	if len(best) > 1 && tieBreak != nil {
		pick = tieBreak(len(best))
	}
	return feasible[best[pick]].Node.Name, nil, processed
}
