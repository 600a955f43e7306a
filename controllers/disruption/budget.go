package disruption

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// DeletionTimeout is how long an evicted pod listed in status.disruptedPods
// is taken to be on its way out; after that the eviction is assumed not to
// have happened and the pod counts again (upstream's value).
const DeletionTimeout = 2 * time.Minute

// StaleDisruptionTimeout is how long a pod may carry a DisruptionTarget=True
// condition without being deleted before the condition is reset to False.
const StaleDisruptionTimeout = 2 * time.Minute

// Scale is the desired replica count of a pod's controller.
type Scale struct {
	UID      types.UID
	Replicas int32
}

// ScaleFunc finds the scale of the controller a pod's controller reference
// names; ok is false when no such controller exists.
type ScaleFunc func(pod *corev1.Pod, ref *metav1.OwnerReference) (s Scale, ok bool, err error)

// needs is what a budget asks of its pods.
type needs struct {
	expected, desired int32
	// unmanaged lists selected pods without a controller; their budget can
	// only be computed for an integer minAvailable.
	unmanaged []string
}

// expectedAndDesired says how many pods a budget expects and how many of
// them must be healthy. An integer minAvailable counts the selected pods;
// a percentage or maxUnavailable counts the replicas of the pods'
// controllers, so that a budget sees pods its controllers have yet to make.
func expectedAndDesired(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, scaleOf ScaleFunc) (needs, error) {
	var n needs
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		var err error
		if n.expected, n.unmanaged, err = controllersScale(pods, scaleOf); err != nil {
			return n, err
		}
		maxUnavailable, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, int(n.expected), true)
		if err != nil {
			return n, err
		}
		n.desired = max(n.expected-int32(maxUnavailable), 0)
	case pdb.Spec.MinAvailable != nil && pdb.Spec.MinAvailable.Type == intstr.Int:
		n.desired = pdb.Spec.MinAvailable.IntVal
		n.expected = int32(len(pods))
	case pdb.Spec.MinAvailable != nil:
		var err error
		if n.expected, n.unmanaged, err = controllersScale(pods, scaleOf); err != nil {
			return n, err
		}
		minAvailable, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, int(n.expected), true)
		if err != nil {
			return n, err
		}
		n.desired = int32(minAvailable)
	}
	return n, nil
}

// controllersScale adds up the scale of every controller owning one of pods,
// each controller once.
func controllersScale(pods []*corev1.Pod, scaleOf ScaleFunc) (int32, []string, error) {
	scales := map[types.UID]int32{}
	var unmanaged []string
	for _, pod := range pods {
		ref := metav1.GetControllerOf(pod)
		if ref == nil {
			unmanaged = append(unmanaged, pod.Name)
			continue
		}
		if _, seen := scales[ref.UID]; seen {
			continue
		}
		s, ok, err := scaleOf(pod, ref)
		if err != nil {
			return 0, nil, err
		}
		if !ok {
			return 0, nil, fmt.Errorf("found no controllers for pod %q", pod.Name)
		}
		scales[s.UID] = s.Replicas
	}
	var total int32
	for _, r := range scales {
		total += r
	}
	return total, unmanaged, nil
}

// disruptedStill keeps the entries of status.disruptedPods whose pods still
// exist, are not yet being deleted and were evicted less than DeletionTimeout
// ago. recheck is when the earliest kept entry expires (zero if none);
// overdue names the pods whose eviction never led to a deletion.
func disruptedStill(pods []*corev1.Pod, disrupted map[string]metav1.Time, now time.Time) (kept map[string]metav1.Time, recheck time.Time, overdue []string) {
	kept = map[string]metav1.Time{}
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		at, ok := disrupted[pod.Name]
		if !ok {
			continue
		}
		expires := at.Add(DeletionTimeout)
		if expires.Before(now) {
			overdue = append(overdue, pod.Name)
			continue
		}
		kept[pod.Name] = at
		if recheck.IsZero() || expires.Before(recheck) {
			recheck = expires
		}
	}
	return kept, recheck, overdue
}

// healthy counts the pods that are Ready and not on their way out.
func healthy(pods []*corev1.Pod, disrupted map[string]metav1.Time, now time.Time) int32 {
	var n int32
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		if at, ok := disrupted[pod.Name]; ok && at.Add(DeletionTimeout).After(now) {
			continue
		}
		if podReady(pod) {
			n++
		}
	}
	return n
}

// allowed is how many pods may be disrupted now. A budget that expects no
// pods allows nothing, so that its first pods are guarded before the
// controller has counted them.
func allowed(currentHealthy, desiredHealthy, expected int32) int32 {
	d := currentHealthy - desiredHealthy
	if expected <= 0 || d < 0 {
		return 0
	}
	return d
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
