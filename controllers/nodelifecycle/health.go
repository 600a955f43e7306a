package nodelifecycle

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reasons and messages upstream writes when a kubelet goes silent.
const (
	ReasonStatusUnknown       = "NodeStatusUnknown"
	MessageStatusUnknown      = "Kubelet stopped posting node status."
	ReasonStatusNeverUpdated  = "NodeStatusNeverUpdated"
	MessageStatusNeverUpdated = "Kubelet never posted node status."
)

// healthConditions are the kubelet-owned conditions set to Unknown when the
// kubelet is silent.
var healthConditions = []corev1.NodeConditionType{
	corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure,
}

// MarkUnknown sets the health conditions of a node whose kubelet has been
// silent for the grace period to Unknown, as upstream does, and says whether
// it changed anything. A condition the kubelet never posted is added with the
// NeverUpdated reason and the node's creation as its heartbeat.
func MarkUnknown(node *corev1.Node, now metav1.Time) bool {
	changed := false
	for _, t := range healthConditions {
		i := -1
		for j := range node.Status.Conditions {
			if node.Status.Conditions[j].Type == t {
				i = j
			}
		}
		if i < 0 {
			node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{
				Type: t, Status: corev1.ConditionUnknown,
				Reason: ReasonStatusNeverUpdated, Message: MessageStatusNeverUpdated,
				LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: now,
			})
			changed = true
			continue
		}
		c := &node.Status.Conditions[i]
		if c.Status == corev1.ConditionUnknown {
			continue
		}
		c.Status, c.Reason, c.Message, c.LastTransitionTime = corev1.ConditionUnknown, ReasonStatusUnknown, MessageStatusUnknown, now
		changed = true
	}
	return changed
}
