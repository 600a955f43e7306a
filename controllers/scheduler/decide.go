package scheduler

import (
	corev1 "k8s.io/api/core/v1"
)

// FindNode runs the filters over nodes and scores the ones that pass,
// returning the best node's name. Among equally good nodes tieBreak(n) picks
// one of the n (upstream picks at random, which spreads a burst of identical
// pods). When no node passes it returns "" and how many nodes gave each reason.
func FindNode(pod *corev1.Pod, nodes []*NodeInfo, tieBreak func(n int) int) (string, map[string]int) {
	cluster := newClusterState(pod, nodes)
	feasible := make([]*NodeInfo, 0, len(nodes))
	reasons := map[string]int{}
	for _, ni := range nodes {
		rs := Filter(pod, ni)
		if len(rs) == 0 {
			rs = cluster.filter(pod, ni)
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
		return "", reasons
	}
	scores := Score(pod, feasible)
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
	return feasible[best[pick]].Node.Name, nil
}
