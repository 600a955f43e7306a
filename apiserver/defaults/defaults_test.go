package defaults

import (
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestPullPolicyFor(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"busybox":                       corev1.PullAlways,
		"busybox:latest":                corev1.PullAlways,
		"busybox:1.35":                  corev1.PullIfNotPresent,
		"registry:5000/busybox":         corev1.PullAlways,
		"registry:5000/busybox:1.0":     corev1.PullIfNotPresent,
		"busybox@sha256:" + sixtyFour(): corev1.PullIfNotPresent,
	} {
		if got := PullPolicyFor(image); got != want {
			t.Errorf("PullPolicyFor(%q) = %s, want %s", image, got, want)
		}
	}
}

func sixtyFour() string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = 'a'
	}
	return string(b)
}

func TestJobCompletionsAndParallelism(t *testing.T) {
	for _, tc := range []struct {
		name               string
		completions, par   *int32
		wantCompl, wantPar *int32
	}{
		{"neither", nil, nil, ptr.To[int32](1), ptr.To[int32](1)},
		{"work queue", nil, ptr.To[int32](3), nil, ptr.To[int32](3)},
		{"fixed count", ptr.To[int32](5), nil, ptr.To[int32](5), ptr.To[int32](1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &batchv1.Job{Spec: batchv1.JobSpec{Completions: tc.completions, Parallelism: tc.par}}
			Job(j)
			if !eq(j.Spec.Completions, tc.wantCompl) || !eq(j.Spec.Parallelism, tc.wantPar) {
				t.Errorf("completions %v parallelism %v", j.Spec.Completions, j.Spec.Parallelism)
			}
			if *j.Spec.BackoffLimit != 6 || *j.Spec.CompletionMode != batchv1.NonIndexedCompletion {
				t.Errorf("backoffLimit %d completionMode %s", *j.Spec.BackoffLimit, *j.Spec.CompletionMode)
			}
		})
	}
}

func eq(a, b *int32) bool { return (a == nil && b == nil) || (a != nil && b != nil && *a == *b) }

func TestPodSpecIsIdempotentAndKeepsUserValues(t *testing.T) {
	s := &corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyNever,
		Containers:    []corev1.Container{{Name: "c", Image: "x:1", ImagePullPolicy: corev1.PullNever}},
		Volumes:       []corev1.Volume{{Name: "v"}, {Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}}},
	}
	PodSpec(s)
	PodSpec(s)
	if s.RestartPolicy != corev1.RestartPolicyNever || s.Containers[0].ImagePullPolicy != corev1.PullNever {
		t.Errorf("user values overwritten: %+v", s)
	}
	if s.Volumes[0].EmptyDir == nil {
		t.Error("a volume without source must become an emptyDir")
	}
	if *s.Volumes[1].ConfigMap.DefaultMode != 0o644 {
		t.Errorf("configMap defaultMode = %o", *s.Volumes[1].ConfigMap.DefaultMode)
	}
}
