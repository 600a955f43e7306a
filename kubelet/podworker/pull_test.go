package podworker

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubeseed/kubeseed/kubelet/credentials"
	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

func TestPullPolicyDefaultsAsTheAPI(t *testing.T) {
	for image, want := range map[string]corev1.PullPolicy{
		"busybox":                               corev1.PullAlways,
		"busybox:latest":                        corev1.PullAlways,
		"busybox:1.36":                          corev1.PullIfNotPresent,
		"localhost:5000/app":                    corev1.PullAlways,
		"registry.k8s.io/pause:3.10":            corev1.PullIfNotPresent,
		"busybox@sha256:" + sixtyFourHex:        corev1.PullIfNotPresent,
		"busybox:latest@sha256:" + sixtyFourHex: corev1.PullAlways,
	} {
		if got := PullPolicy(&corev1.Container{Image: image}); got != want {
			t.Errorf("PullPolicy(%q) = %s, want %s", image, got, want)
		}
	}
	if got := PullPolicy(&corev1.Container{Image: "busybox", ImagePullPolicy: corev1.PullNever}); got != corev1.PullNever {
		t.Errorf("a set policy was overridden: %s", got)
	}
}

const sixtyFourHex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestPullNeeded(t *testing.T) {
	for _, tc := range []struct {
		policy  corev1.PullPolicy
		present bool
		want    bool
	}{
		{corev1.PullAlways, true, true},
		{corev1.PullAlways, false, true},
		{corev1.PullIfNotPresent, true, false},
		{corev1.PullIfNotPresent, false, true},
		{corev1.PullNever, true, false},
		{corev1.PullNever, false, false},
	} {
		if got := PullNeeded(tc.policy, tc.present); got != tc.want {
			t.Errorf("PullNeeded(%s, present=%v) = %v, want %v", tc.policy, tc.present, got, tc.want)
		}
	}
}

func TestPullBackoffFromLastFailure(t *testing.T) {
	b := NewPullBackoff()
	t0 := time.Unix(1000, 0)
	if in, _ := b.InBackoffSinceUpdate("uid_busybox", t0); in {
		t.Fatal("a first pull must not wait")
	}
	now := t0
	var delays []time.Duration
	for range 7 {
		b.Next("uid_busybox", now)
		in, d := b.InBackoffSinceUpdate("uid_busybox", now)
		if !in {
			t.Fatalf("not backing off right after a failure at %s", now)
		}
		delays = append(delays, d)
		if in, _ := b.InBackoffSinceUpdate("uid_busybox", now.Add(d)); in {
			t.Fatalf("still backing off %s after a failure with delay %s", d, d)
		}
		now = now.Add(d)
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("delays = %v, want %v", delays, want)
		}
	}
}

func TestPullBackoffMessageKeepsTheError(t *testing.T) {
	failed := &corev1.ContainerStateWaiting{Reason: ReasonErrImagePull, Message: "not found"}
	first := pullBackoffMessage("nothere", failed)
	if first != `Back-off pulling image "nothere": ErrImagePull: not found` {
		t.Errorf("after ErrImagePull: %q", first)
	}
	if got := pullBackoffMessage("nothere", &corev1.ContainerStateWaiting{Reason: ReasonImagePullBackOff, Message: first}); got != first {
		t.Errorf("while backing off: %q", got)
	}
	if got := pullBackoffMessage("nothere", nil); got != `Back-off pulling image "nothere"` {
		t.Errorf("with nothing before: %q", got)
	}
}

// An image pulled with credentials is for pods holding one of them: the
// same username and password, whichever secret they come from.
func TestHoldsAny(t *testing.T) {
	robot := (&kruntime.Auth{Username: "robot", Password: "s3cret"}).Identity()
	other := (&kruntime.Auth{Username: "other", Password: "x"}).Identity()
	for _, c := range []struct {
		name  string
		ids   []string
		creds []credentials.Credential
		want  bool
	}{
		{"no credentials", []string{robot}, nil, false},
		{"the same, from another secret", []string{other, robot}, []credentials.Credential{{Username: "robot", Password: "s3cret", Secret: "ns/copy"}}, true},
		{"a later one matches", []string{robot}, []credentials.Credential{{Username: "robot", Password: "old"}, {Username: "robot", Password: "s3cret"}}, true},
		{"same user, another password", []string{robot}, []credentials.Credential{{Username: "robot", Password: "guess"}}, false},
		{"nothing recorded", nil, []credentials.Credential{{Username: "robot", Password: "s3cret"}}, false},
	} {
		if got := holdsAny(c.ids, c.creds); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
