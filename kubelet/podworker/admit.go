package podworker

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"
)

// Admit decides whether pod fits on the node beside the pods already
// admitted, as upstream's kubelet does before running a pod: its cpu and
// memory requests plus theirs must fit the node's allocatable, and the node
// takes at most its pods capacity. A rejected pod fails with reason
// OutOf<resource> (OutOfcpu, OutOfmemory, OutOfpods) and upstream's message.
func Admit(pod *corev1.Pod, admitted []*corev1.Pod, allocatable corev1.ResourceList) (ok bool, reason, message string) {
	if allocatable == nil {
		return true, "", ""
	}
	if max, has := allocatable[corev1.ResourcePods]; has && int64(len(admitted))+1 > max.Value() {
		return false, "OutOfpods", fmt.Sprintf("Node didn't have enough resource: pods, requested: 1, used: %d, capacity: %d", len(admitted), max.Value())
	}
	want := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		req, has := want[name]
		if !has || req.IsZero() {
			continue
		}
		capacity, has := allocatable[name]
		if !has {
			continue
		}
		used := int64(0)
		for _, p := range admitted {
			r := resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{})
			if q, ok := r[name]; ok {
				used += value(name, q)
			}
		}
		if used+value(name, req) > value(name, capacity) {
			return false, "OutOf" + string(name), fmt.Sprintf("Node didn't have enough resource: %s, requested: %d, used: %d, capacity: %d",
				name, value(name, req), used, value(name, capacity))
		}
	}
	return true, "", ""
}

// value counts cpu in millicores and everything else in units, as the
// messages upstream prints do.
func value(name corev1.ResourceName, q resource.Quantity) int64 {
	if name == corev1.ResourceCPU {
		return q.MilliValue()
	}
	return q.Value()
}
