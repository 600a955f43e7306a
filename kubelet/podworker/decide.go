package podworker

import (
	corev1 "k8s.io/api/core/v1"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// Action is what a worker does about one container in one sync.
type Action int

const (
	// Keep leaves the container as it is.
	Keep Action = iota
	// Start starts a new attempt.
	Start
	// Wait holds a restart back (CrashLoopBackOff).
	Wait
)

// Attempts splits a pod's runtime containers into the latest and the
// previous attempt of each container name.
func Attempts(ctrs []kruntime.Container) (latest, previous map[string]*kruntime.Container) {
	latest, previous = map[string]*kruntime.Container{}, map[string]*kruntime.Container{}
	for i := range ctrs {
		c := &ctrs[i]
		if l := latest[c.Name]; l == nil || c.Attempt > l.Attempt {
			if l != nil {
				previous[c.Name] = l
			}
			latest[c.Name] = c
		} else if p := previous[c.Name]; p == nil || c.Attempt > p.Attempt {
			previous[c.Name] = c
		}
	}
	return latest, previous
}

// ShouldRestart applies the pod's restartPolicy to an exited container.
func ShouldRestart(policy corev1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	default:
		return true
	}
}

// Decide says what to do with a container given its latest attempt (nil if
// none), the pod's restart policy and whether its restart is backing off.
func Decide(policy corev1.RestartPolicy, latest *kruntime.Container, inBackoff bool) Action {
	switch {
	case latest == nil:
		return Start
	case latest.State != kruntime.StateExited:
		return Keep
	case !ShouldRestart(policy, latest.ExitCode):
		return Keep
	case inBackoff:
		return Wait
	default:
		return Start
	}
}
