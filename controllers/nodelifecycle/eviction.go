package nodelifecycle

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/klog/v2"
)

// EvictionTime says whether and when a pod on a node with the given taints
// must be deleted: now when it does not tolerate every NoExecute taint; at
// the earliest taint time plus its smallest tolerationSeconds when it
// tolerates them for a while; never (ok false) when it tolerates them
// forever or there are none.
func EvictionTime(pod *corev1.Pod, taints []corev1.Taint, now time.Time) (time.Time, bool) {
	var noExecute []corev1.Taint
	for _, t := range taints {
		if t.Effect == corev1.TaintEffectNoExecute {
			noExecute = append(noExecute, t)
		}
	}
	if len(noExecute) == 0 {
		return time.Time{}, false
	}
	var seconds *int64
	since := now
	for i := range noExecute {
		t := &noExecute[i]
		tolerated := false
		for _, tol := range pod.Spec.Tolerations {
			if !tol.ToleratesTaint(klog.Background(), t, false) {
				continue
			}
			tolerated = true
			if tol.TolerationSeconds != nil && (seconds == nil || *tol.TolerationSeconds < *seconds) {
				seconds = tol.TolerationSeconds
			}
		}
		if !tolerated {
			return now, true
		}
		if t.TimeAdded != nil && t.TimeAdded.Time.Before(since) {
			since = t.TimeAdded.Time
		}
	}
	if seconds == nil {
		return time.Time{}, false
	}
	if *seconds <= 0 {
		return now, true
	}
	return since.Add(time.Duration(*seconds) * time.Second), true
}
