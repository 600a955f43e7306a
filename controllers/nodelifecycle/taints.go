package nodelifecycle

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// managedTaintKeys are the taint keys this controller sets and removes; any
// other taint on a node belongs to someone else and is kept.
var managedTaintKeys = []string{
	corev1.TaintNodeNotReady,
	corev1.TaintNodeUnreachable,
	corev1.TaintNodeMemoryPressure,
	corev1.TaintNodeDiskPressure,
	corev1.TaintNodePIDPressure,
	corev1.TaintNodeNetworkUnavailable,
	corev1.TaintNodeUnschedulable,
}

// conditionTaints maps a condition in a given state to its NoSchedule taint key.
var conditionTaints = []struct {
	condition corev1.NodeConditionType
	status    corev1.ConditionStatus
	key       string
}{
	{corev1.NodeReady, corev1.ConditionFalse, corev1.TaintNodeNotReady},
	{corev1.NodeReady, corev1.ConditionUnknown, corev1.TaintNodeUnreachable},
	{corev1.NodeMemoryPressure, corev1.ConditionTrue, corev1.TaintNodeMemoryPressure},
	{corev1.NodeDiskPressure, corev1.ConditionTrue, corev1.TaintNodeDiskPressure},
	{corev1.NodePIDPressure, corev1.ConditionTrue, corev1.TaintNodePIDPressure},
	{corev1.NodeNetworkUnavailable, corev1.ConditionTrue, corev1.TaintNodeNetworkUnavailable},
}

// readyStatus is the node's Ready condition status, Unknown when absent.
func readyStatus(node *corev1.Node) corev1.ConditionStatus {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status
		}
	}
	return corev1.ConditionUnknown
}

// DesiredTaints are the managed taints the node's state calls for: NoSchedule
// taints for each adverse condition and for spec.unschedulable, and NoExecute
// not-ready or unreachable taints when Ready is False or Unknown. A node that
// has never reported Ready keeps (or gets) the not-ready NoSchedule taint the
// API server gave it, but is not evicted until its grace period passes and
// its Ready condition becomes Unknown.
//
// allDown says no node in the cluster is Ready. Upstream then assumes the
// control plane, not the nodes, is cut off ("master disruption mode") and
// evicts nothing: NoExecute taints are withheld, so a one-node cluster whose
// agent stalls keeps its pods.
func DesiredTaints(node *corev1.Node, allDown bool) []corev1.Taint {
	var out []corev1.Taint
	hasReady := false
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			hasReady = true
		}
		for _, m := range conditionTaints {
			if c.Type == m.condition && c.Status == m.status {
				out = append(out, corev1.Taint{Key: m.key, Effect: corev1.TaintEffectNoSchedule})
			}
		}
	}
	if !hasReady {
		out = append(out, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule})
	}
	if node.Spec.Unschedulable {
		out = append(out, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule})
	}
	if allDown {
		return out
	}
	switch readyStatus(node) {
	case corev1.ConditionFalse:
		out = append(out, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute})
	case corev1.ConditionUnknown:
		if hasReady {
			out = append(out, corev1.Taint{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute})
		}
	}
	return out
}

// ReconcileTaints returns the node's taints with the managed ones replaced by
// desired, keeping the TimeAdded of NoExecute taints already present (pods'
// tolerationSeconds count from it) and stamping new ones with now. It reports
// whether anything changed.
func ReconcileTaints(current, desired []corev1.Taint, now metav1.Time) ([]corev1.Taint, bool) {
	var out []corev1.Taint
	for _, t := range current {
		if !slices.Contains(managedTaintKeys, t.Key) {
			out = append(out, t)
		}
	}
	for _, d := range desired {
		if i := slices.IndexFunc(current, func(t corev1.Taint) bool { return t.Key == d.Key && t.Effect == d.Effect }); i >= 0 {
			d = current[i]
		} else if d.Effect == corev1.TaintEffectNoExecute {
			d.TimeAdded = &now
		}
		out = append(out, d)
	}
	return out, !sameTaints(current, out)
}

func sameTaints(a, b []corev1.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	for _, t := range a {
		if !slices.ContainsFunc(b, func(u corev1.Taint) bool { return t.MatchTaint(&u) && t.Value == u.Value }) {
			return false
		}
	}
	return true
}
