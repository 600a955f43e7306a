package scheduler

import (
	"math"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Weights of the cross-node preferences, upstream's defaults.
const (
	weightSpread      = 2
	weightPodAffinity = 2
)

// Upstream's system default spreading for pods that declare no constraints:
// ScheduleAnyway over hostname (maxSkew 3) and zone (maxSkew 5), selecting
// the pods of the same owner.
var defaultSpreadKeys = []string{corev1.LabelHostname, corev1.LabelTopologyZone}

// softScore adds the ScheduleAnyway topology spread and preferred inter-pod
// affinity scores to scores, one per feasible node. As upstream, spreading
// counts pods over the feasible nodes only, affinity over all nodes.
func softScore(pod *corev1.Pod, all, feasible []*NodeInfo, scores []int64) {
	if spread := spreadScores(pod, feasible, feasible); spread != nil {
		for i := range scores {
			scores[i] += weightSpread * spread[i]
		}
	}
	if aff := preferredAffinityScores(pod, all, feasible); aff != nil {
		for i := range scores {
			scores[i] += weightPodAffinity * aff[i]
		}
	}
}

// softConstraint is one preference: pods matching selector in the node's
// domain of key count against it.
type softConstraint struct {
	key      string
	selector func(*corev1.Pod) bool
}

// spreadScores favours nodes whose domains hold fewer matching pods, for the
// pod's ScheduleAnyway constraints or, when it declares none and has a
// controller, the system default spreading of its siblings. Nil means no
// preference.
func spreadScores(pod *corev1.Pod, all, feasible []*NodeInfo) []int64 {
	var constraints []softConstraint
	declared := false
	for _, c := range pod.Spec.TopologySpreadConstraints {
		declared = true
		if c.WhenUnsatisfiable != corev1.ScheduleAnyway {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil || c.LabelSelector == nil {
			continue
		}
		ns := pod.Namespace
		constraints = append(constraints, softConstraint{key: c.TopologyKey, selector: func(p *corev1.Pod) bool {
			return p.Namespace == ns && sel.Matches(labels.Set(p.Labels))
		}})
	}
	if owner := metav1.GetControllerOfNoCopy(pod); !declared && owner != nil {
		uid := owner.UID
		sibling := func(p *corev1.Pod) bool {
			o := metav1.GetControllerOfNoCopy(p)
			return o != nil && o.UID == uid
		}
		for _, key := range defaultSpreadKeys {
			constraints = append(constraints, softConstraint{key: key, selector: sibling})
		}
	}
	if len(constraints) == 0 {
		return nil
	}
	counts := domainCounts(constraints, all)
	raw := make([]int64, len(feasible))
	for i, ni := range feasible {
		var s float64
		for j, c := range constraints {
			if v, ok := ni.Node.Labels[c.key]; ok {
				// Upstream weighs each constraint by how many domains it has.
				s += float64(counts[j][v]) * math.Log(float64(len(counts[j])+2))
			}
		}
		raw[i] = int64(math.Round(s * 100))
	}
	normalize(raw, true)
	return raw
}

// domainCounts counts, per constraint, the matching pods in each domain.
func domainCounts(constraints []softConstraint, nodes []*NodeInfo) []map[string]int {
	counts := make([]map[string]int, len(constraints))
	for j := range counts {
		counts[j] = map[string]int{}
	}
	for _, ni := range nodes {
		for j, c := range constraints {
			v, ok := ni.Node.Labels[c.key]
			if !ok {
				continue
			}
			n := 0
			for _, p := range ni.Pods {
				if p.DeletionTimestamp == nil && c.selector(p) {
					n++
				}
			}
			counts[j][v] += n
		}
	}
	return counts
}

// preferredAffinityScores favours nodes whose domains hold pods the pod
// prefers to be near and avoids those holding pods it prefers to avoid, by
// the terms' weights. Nil means no preference.
func preferredAffinityScores(pod *corev1.Pod, all, feasible []*NodeInfo) []int64 {
	a := pod.Spec.Affinity
	if a == nil {
		return nil
	}
	type weighted struct {
		term   podTerm
		weight int64
	}
	var terms []weighted
	if a.PodAffinity != nil {
		for _, t := range a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, weighted{newPodTerm(pod, t.PodAffinityTerm), int64(t.Weight)})
		}
	}
	if a.PodAntiAffinity != nil {
		for _, t := range a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, weighted{newPodTerm(pod, t.PodAffinityTerm), -int64(t.Weight)})
		}
	}
	if len(terms) == 0 {
		return nil
	}
	constraints := make([]softConstraint, len(terms))
	for j, t := range terms {
		constraints[j] = softConstraint{key: t.term.topologyKey, selector: t.term.matches}
	}
	counts := domainCounts(constraints, all)
	raw := make([]int64, len(feasible))
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for i, ni := range feasible {
		for j, t := range terms {
			if v, ok := ni.Node.Labels[t.term.topologyKey]; ok {
				raw[i] += t.weight * int64(counts[j][v])
			}
		}
		lo, hi = min(lo, raw[i]), max(hi, raw[i])
	}
	for i := range raw {
		if hi > lo {
			raw[i] = (raw[i] - lo) * maxNodeScore / (hi - lo)
		} else {
			raw[i] = 0
		}
	}
	return raw
}
