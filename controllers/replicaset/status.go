package replicaset

import (
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// calculateStatus derives the status from the pods the set owns. manageErr is
// the error of the last create/delete round (with its reason), which sets or
// clears the ReplicaFailure condition. It also returns how long until a ready
// pod becomes available, so the caller can look again then (0: no need).
func calculateStatus(rs *appsv1.ReplicaSet, pods []*corev1.Pod, failReason string, manageErr error, now time.Time) (appsv1.ReplicaSetStatus, time.Duration) {
	st := *rs.Status.DeepCopy()
	var fully, ready, available int32
	var wait time.Duration
	for _, p := range pods {
		if fullyLabeled(p, rs.Spec.Template.Labels) {
			fully++
		}
		if !IsPodReady(p) {
			continue
		}
		ready++
		if IsPodAvailable(p, rs.Spec.MinReadySeconds, now) {
			available++
			continue
		}
		left := readyCondition(p).LastTransitionTime.Add(time.Duration(rs.Spec.MinReadySeconds) * time.Second).Sub(now)
		if left > 0 && (wait == 0 || left < wait) {
			wait = left
		}
	}
	st.Replicas = int32(len(pods))
	st.FullyLabeledReplicas = fully
	st.ReadyReplicas = ready
	st.AvailableReplicas = available
	st.ObservedGeneration = rs.Generation

	idx := -1
	for i, c := range st.Conditions {
		if c.Type == appsv1.ReplicaSetReplicaFailure {
			idx = i
		}
	}
	switch {
	case manageErr != nil && idx < 0:
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{
			Type:               appsv1.ReplicaSetReplicaFailure,
			Status:             corev1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now),
			Reason:             failReason,
			Message:            manageErr.Error(),
		})
	case manageErr == nil && idx >= 0:
		st.Conditions = append(st.Conditions[:idx:idx], st.Conditions[idx+1:]...)
	}
	return st, wait
}
