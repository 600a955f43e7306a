package nodelifecycle

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func nodeWith(ready corev1.ConditionStatus, mods ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}
	if ready != "" {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}
	}
	for _, m := range mods {
		m(n)
	}
	return n
}

func taintStrings(ts []corev1.Taint) string {
	s := ""
	for _, t := range ts {
		s += t.ToString() + " "
	}
	return s
}

func TestDesiredTaints(t *testing.T) {
	tests := []struct {
		name string
		node *corev1.Node
		want string
	}{
		{"ready", nodeWith(corev1.ConditionTrue), ""},
		{"never reported", nodeWith(""), "node.kubernetes.io/not-ready:NoSchedule "},
		{"not ready", nodeWith(corev1.ConditionFalse), "node.kubernetes.io/not-ready:NoSchedule node.kubernetes.io/not-ready:NoExecute "},
		{"unknown", nodeWith(corev1.ConditionUnknown), "node.kubernetes.io/unreachable:NoSchedule node.kubernetes.io/unreachable:NoExecute "},
		{"memory pressure and cordoned", nodeWith(corev1.ConditionTrue, func(n *corev1.Node) {
			n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionTrue})
			n.Spec.Unschedulable = true
		}), "node.kubernetes.io/memory-pressure:NoSchedule node.kubernetes.io/unschedulable:NoSchedule "},
	}
	for _, tt := range tests {
		if got := taintStrings(DesiredTaints(tt.node, false)); got != tt.want {
			t.Errorf("%s: DesiredTaints = %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := taintStrings(DesiredTaints(nodeWith(corev1.ConditionUnknown), true)); got != "node.kubernetes.io/unreachable:NoSchedule " {
		t.Errorf("with every node down: DesiredTaints = %q, want no NoExecute taint", got)
	}
}

func TestReconcileTaintsKeepsOthersAndTimeAdded(t *testing.T) {
	then := metav1.Unix(1000, 0)
	now := metav1.Unix(2000, 0)
	current := []corev1.Taint{
		{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &then},
	}
	got, changed := ReconcileTaints(current, DesiredTaints(nodeWith(corev1.ConditionUnknown), false), now)
	if !changed {
		t.Fatal("not-ready to unreachable reported no change")
	}
	if s := taintStrings(got); s != "dedicated=gpu:NoSchedule node.kubernetes.io/unreachable:NoSchedule node.kubernetes.io/unreachable:NoExecute " {
		t.Errorf("taints %q", s)
	}
	if !got[2].TimeAdded.Equal(&then) {
		t.Errorf("NoExecute taint TimeAdded %v, want it kept at %v", got[2].TimeAdded, then)
	}
	if _, changed := ReconcileTaints(got, DesiredTaints(nodeWith(corev1.ConditionUnknown), false), now); changed {
		t.Error("reconciling twice reported a change")
	}
	got, _ = ReconcileTaints(got, DesiredTaints(nodeWith(corev1.ConditionTrue), false), now)
	if s := taintStrings(got); s != "dedicated=gpu:NoSchedule " {
		t.Errorf("after recovery taints %q, want only the user's", s)
	}
}

func TestMarkUnknown(t *testing.T) {
	now := metav1.Unix(2000, 0)
	n := nodeWith(corev1.ConditionTrue)
	if !MarkUnknown(n, now) {
		t.Fatal("no change")
	}
	for _, c := range n.Status.Conditions {
		if c.Status != corev1.ConditionUnknown {
			t.Errorf("%s = %s", c.Type, c.Status)
		}
		wantReason := ReasonStatusNeverUpdated
		if c.Type == corev1.NodeReady {
			wantReason = ReasonStatusUnknown
		}
		if c.Reason != wantReason {
			t.Errorf("%s reason %s, want %s", c.Type, c.Reason, wantReason)
		}
	}
	if len(n.Status.Conditions) != 4 {
		t.Errorf("%d conditions, want Ready and the three pressures", len(n.Status.Conditions))
	}
	if MarkUnknown(n, now) {
		t.Error("second MarkUnknown changed something")
	}
}

func TestEvictionTime(t *testing.T) {
	now := time.Unix(10000, 0)
	added := metav1.NewTime(now.Add(-100 * time.Second))
	unreachable := []corev1.Taint{{Key: corev1.TaintNodeUnreachable, Effect: corev1.TaintEffectNoExecute, TimeAdded: &added}}
	tolerate := func(seconds *int64) *corev1.Pod {
		return &corev1.Pod{Spec: corev1.PodSpec{Tolerations: []corev1.Toleration{{
			Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: seconds,
		}}}}
	}
	tests := []struct {
		name   string
		pod    *corev1.Pod
		taints []corev1.Taint
		want   string
	}{
		{"no taints", &corev1.Pod{}, nil, "never"},
		{"untolerated", &corev1.Pod{}, unreachable, "0s"},
		{"tolerated for 300s since 100s ago", tolerate(new(int64(300))), unreachable, "3m20s"},
		{"tolerated for 60s since 100s ago", tolerate(new(int64(60))), unreachable, "-40s"},
		{"tolerated forever", tolerate(nil), unreachable, "never"},
		{"NoSchedule taints do not evict", &corev1.Pod{}, []corev1.Taint{{Key: "x", Effect: corev1.TaintEffectNoSchedule}}, "never"},
	}
	for _, tt := range tests {
		at, ok := EvictionTime(tt.pod, tt.taints, now)
		got := "never"
		if ok {
			got = fmt.Sprint(at.Sub(now))
		}
		if got != tt.want {
			t.Errorf("%s: eviction in %s, want %s", tt.name, got, tt.want)
		}
	}
}
