package endpoints

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEndpointsChanged(t *testing.T) {
	base := func() *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"app": "echo"}},
			Spec:       corev1.PodSpec{NodeName: "n1"},
			Status: corev1.PodStatus{
				Phase: corev1.PodRunning, PodIP: "10.244.0.5", PodIPs: []corev1.PodIP{{IP: "10.244.0.5"}},
				Conditions:        []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "c", RestartCount: 0}},
			},
		}
	}
	now := metav1.Now()
	for name, tc := range map[string]struct {
		edit func(*corev1.Pod)
		want bool
	}{
		"restart count only": {func(p *corev1.Pod) { p.Status.ContainerStatuses[0].RestartCount = 3 }, false},
		"annotation only":    {func(p *corev1.Pod) { p.Annotations = map[string]string{"a": "b"} }, false},
		"label":              {func(p *corev1.Pod) { p.Labels["app"] = "other" }, true},
		"not ready":          {func(p *corev1.Pod) { p.Status.Conditions[0].Status = corev1.ConditionFalse }, true},
		"new address": {func(p *corev1.Pod) {
			p.Status.PodIP, p.Status.PodIPs = "10.244.0.6", []corev1.PodIP{{IP: "10.244.0.6"}}
		}, true},
		"terminating":         {func(p *corev1.Pod) { p.DeletionTimestamp = &now }, true},
		"succeeded":           {func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }, true},
		"hostname for a sts":  {func(p *corev1.Pod) { p.Spec.Hostname = "web-0" }, true},
		"subdomain for a sts": {func(p *corev1.Pod) { p.Spec.Subdomain = "web" }, true},
	} {
		t.Run(name, func(t *testing.T) {
			n := base()
			tc.edit(n)
			if got := endpointsChanged(base(), n); got != tc.want {
				t.Errorf("endpointsChanged = %v, want %v", got, tc.want)
			}
		})
	}
}
