package scheduler

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
)

// requiredAffinity and requiredAntiAffinity are a pod's hard inter-pod terms.
func requiredAffinity(pod *corev1.Pod) []corev1.PodAffinityTerm {
	if a := pod.Spec.Affinity; a != nil && a.PodAffinity != nil {
		return a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	}
	return nil
}

func requiredAntiAffinity(pod *corev1.Pod) []corev1.PodAffinityTerm {
	if a := pod.Spec.Affinity; a != nil && a.PodAntiAffinity != nil {
		return a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	}
	return nil
}

// hardSpread lists the pod's DoNotSchedule topology spread constraints.
func hardSpread(pod *corev1.Pod) []corev1.TopologySpreadConstraint {
	var out []corev1.TopologySpreadConstraint
	for _, c := range pod.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable == corev1.DoNotSchedule {
			out = append(out, c)
		}
	}
	return out
}

// podTerm is a PodAffinityTerm made ready to match pods against.
type podTerm struct {
	topologyKey string
	selector    labels.Selector
	namespaces  sets.Set[string]
	// allNamespaces is set by an empty namespaceSelector.
	allNamespaces bool
}

// newPodTerm resolves a term of owner's: with neither namespaces nor a
// namespaceSelector it applies to owner's namespace. A non-empty
// namespaceSelector needs namespace labels, which this scheduler does not
// watch: such terms match only the listed namespaces.
func newPodTerm(owner *corev1.Pod, t corev1.PodAffinityTerm) podTerm {
	sel, err := metav1.LabelSelectorAsSelector(t.LabelSelector)
	if err != nil || t.LabelSelector == nil {
		sel = labels.Nothing()
	}
	if len(t.MatchLabelKeys) > 0 && t.LabelSelector != nil {
		for _, k := range t.MatchLabelKeys {
			if v, ok := owner.Labels[k]; ok {
				if r, err := labels.NewRequirement(k, "=", []string{v}); err == nil {
					sel = sel.Add(*r)
				}
			}
		}
	}
	pt := podTerm{topologyKey: t.TopologyKey, selector: sel, namespaces: sets.New(t.Namespaces...)}
	if t.NamespaceSelector != nil && len(t.NamespaceSelector.MatchLabels) == 0 && len(t.NamespaceSelector.MatchExpressions) == 0 {
		pt.allNamespaces = true
	}
	if len(t.Namespaces) == 0 && t.NamespaceSelector == nil {
		pt.namespaces.Insert(owner.Namespace)
	}
	return pt
}

func (t podTerm) matches(pod *corev1.Pod) bool {
	return (t.allNamespaces || t.namespaces.Has(pod.Namespace)) && t.selector.Matches(labels.Set(pod.Labels))
}

// sameDomain says whether two nodes share the term's topology domain.
func sameDomain(key string, a, b *corev1.Node) bool {
	va, ok := a.Labels[key]
	if !ok {
		return false
	}
	vb, ok := b.Labels[key]
	return ok && va == vb
}

// clusterState holds what the cross-node filters (inter-pod affinity and
// topology spread) need about the whole cluster for one pod, computed once
// per attempt.
type clusterState struct {
	affinity, antiAffinity []podTerm
	// affinityMatches[i] lists nodes that hold a pod matching affinity term i.
	affinityMatches [][]*corev1.Node
	// anyAffinityMatch is false when no pod matches all affinity terms: then a
	// pod that matches its own terms may start the group anywhere.
	anyAffinityMatch bool
	selfAffinity     bool
	// antiAffinityNodes lists nodes holding pods matching an anti-affinity term i.
	antiAffinityNodes [][]*corev1.Node
	// existing lists (node, term) pairs of existing pods' anti-affinity terms
	// that the incoming pod matches.
	existing []existingTerm
	spread   []spreadState
}

type existingTerm struct {
	node *corev1.Node
	key  string
}

// spreadState is one DoNotSchedule constraint with pod counts per domain.
type spreadState struct {
	c        corev1.TopologySpreadConstraint
	selector labels.Selector
	counts   map[string]int
	minMatch int
	self     int
}

func newClusterState(pod *corev1.Pod, nodes []*NodeInfo) *clusterState {
	cs := &clusterState{}
	for _, t := range requiredAffinity(pod) {
		cs.affinity = append(cs.affinity, newPodTerm(pod, t))
	}
	for _, t := range requiredAntiAffinity(pod) {
		cs.antiAffinity = append(cs.antiAffinity, newPodTerm(pod, t))
	}
	cs.affinityMatches = make([][]*corev1.Node, len(cs.affinity))
	cs.antiAffinityNodes = make([][]*corev1.Node, len(cs.antiAffinity))
	if len(cs.affinity) > 0 {
		cs.selfAffinity = true
		for _, t := range cs.affinity {
			cs.selfAffinity = cs.selfAffinity && t.matches(pod)
		}
	}
	for _, ni := range nodes {
		// Existing pods whose anti-affinity the incoming pod would break.
		for _, other := range ni.AntiAffinityPods {
			for _, t := range requiredAntiAffinity(other) {
				if newPodTerm(other, t).matches(pod) {
					cs.existing = append(cs.existing, existingTerm{node: ni.Node, key: t.TopologyKey})
				}
			}
		}
		if len(cs.affinity) == 0 && len(cs.antiAffinity) == 0 {
			continue
		}
		for _, other := range ni.Pods {
			if other.UID == pod.UID {
				continue
			}
			all := len(cs.affinity) > 0
			for i, t := range cs.affinity {
				if t.matches(other) {
					cs.affinityMatches[i] = append(cs.affinityMatches[i], ni.Node)
				} else {
					all = false
				}
			}
			cs.anyAffinityMatch = cs.anyAffinityMatch || all
			for i, t := range cs.antiAffinity {
				if t.matches(other) {
					cs.antiAffinityNodes[i] = append(cs.antiAffinityNodes[i], ni.Node)
				}
			}
		}
	}
	cs.spread = newSpreadStates(pod, nodes)
	return cs
}

// newSpreadStates counts, per DoNotSchedule constraint, the matching pods in
// each topology domain over the nodes the pod could use by its node selector
// and affinity (upstream's default nodeAffinityPolicy Honor; taints are
// ignored by default) and that carry every constraint's key.
func newSpreadStates(pod *corev1.Pod, nodes []*NodeInfo) []spreadState {
	constraints := hardSpread(pod)
	if len(constraints) == 0 {
		return nil
	}
	required := nodeaffinity.GetRequiredNodeAffinity(pod)
	states := make([]spreadState, len(constraints))
	for i, c := range constraints {
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil || c.LabelSelector == nil {
			sel = labels.Nothing()
		}
		for _, k := range c.MatchLabelKeys {
			if v, ok := pod.Labels[k]; ok {
				if r, err := labels.NewRequirement(k, "=", []string{v}); err == nil {
					sel = sel.Add(*r)
				}
			}
		}
		states[i] = spreadState{c: c, selector: sel, counts: map[string]int{}}
		if sel.Matches(labels.Set(pod.Labels)) {
			states[i].self = 1
		}
	}
	for _, ni := range nodes {
		if ok, _ := required.Match(ni.Node); !ok {
			continue
		}
		hasAll := true
		for _, c := range constraints {
			if _, ok := ni.Node.Labels[c.TopologyKey]; !ok {
				hasAll = false
			}
		}
		if !hasAll {
			continue
		}
		for i := range states {
			s := &states[i]
			domain := ni.Node.Labels[s.c.TopologyKey]
			n := 0
			for _, other := range ni.Pods {
				if other.Namespace == pod.Namespace && other.DeletionTimestamp == nil && other.UID != pod.UID &&
					s.selector.Matches(labels.Set(other.Labels)) {
					n++
				}
			}
			s.counts[domain] += n
		}
	}
	for i := range states {
		s := &states[i]
		first := true
		for _, n := range s.counts {
			if first || n < s.minMatch {
				s.minMatch, first = n, false
			}
		}
		if s.c.MinDomains != nil && int32(len(s.counts)) < *s.c.MinDomains {
			s.minMatch = 0
		}
	}
	return states
}

// filter applies topology spread, then the pod's affinity, its anti-affinity
// and existing pods' anti-affinity, in upstream's order.
func (cs *clusterState) filter(ni *NodeInfo) []string {
	node := ni.Node
	for _, s := range cs.spread {
		domain, ok := node.Labels[s.c.TopologyKey]
		if !ok {
			return []string{ReasonSpreadMissingNode}
		}
		if s.counts[domain]+s.self-s.minMatch > int(s.c.MaxSkew) {
			return []string{ReasonSpread}
		}
	}
	if !cs.affinityHolds(node) {
		return []string{ReasonAffinity}
	}
	for i, t := range cs.antiAffinity {
		for _, other := range cs.antiAffinityNodes[i] {
			if sameDomain(t.topologyKey, other, node) {
				return []string{ReasonAntiAffinity}
			}
		}
	}
	for _, e := range cs.existing {
		if sameDomain(e.key, e.node, node) {
			return []string{ReasonExistingAntiAff}
		}
	}
	return nil
}

// affinityHolds says whether every required affinity term finds a matching
// pod in node's domain. The first pod of a group that selects itself needs
// only the topology keys on the node.
func (cs *clusterState) affinityHolds(node *corev1.Node) bool {
	if len(cs.affinity) == 0 {
		return true
	}
	if !cs.anyAffinityMatch && cs.selfAffinity {
		for _, t := range cs.affinity {
			if _, ok := node.Labels[t.topologyKey]; !ok {
				return false
			}
		}
		return true
	}
	for i, t := range cs.affinity {
		if !slices.ContainsFunc(cs.affinityMatches[i], func(other *corev1.Node) bool {
			return sameDomain(t.topologyKey, other, node)
		}) {
			return false
		}
	}
	return true
}
