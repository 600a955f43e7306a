package podworker

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// runHook runs a postStart or preStop handler within timeout: exec in the
// container, an HTTP GET to the pod, or a sleep.
func runHook(ctx context.Context, rt kruntime.Runtime, pod *corev1.Pod, c *corev1.Container, h *corev1.LifecycleHandler, podIP string, timeout time.Duration) error {
	if h.Sleep != nil {
		if !sleep(ctx, time.Duration(h.Sleep.Seconds)*time.Second) {
			return ctx.Err()
		}
		return nil
	}
	secs := int32(max(1, timeout/time.Second))
	p := &corev1.Probe{TimeoutSeconds: secs, ProbeHandler: corev1.ProbeHandler{Exec: h.Exec, HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket}}
	if h.Exec == nil && h.HTTPGet == nil && h.TCPSocket == nil {
		return fmt.Errorf("lifecycle hook has no handler")
	}
	return runProbe(ctx, rt, pod, c, p, podIP)
}

// gracePeriod is the pod's termination grace period.
func gracePeriod(pod *corev1.Pod) time.Duration {
	grace := 30 * time.Second
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	if pod.DeletionGracePeriodSeconds != nil {
		grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
	}
	return grace
}
