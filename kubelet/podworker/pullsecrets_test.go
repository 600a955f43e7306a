package podworker

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// authRuntime pulls only with the password "right" (or anonymously, for
// images outside example.test) and records the users it was asked with.
type authRuntime struct {
	kruntime.Runtime
	pulls []string
}

func (r *authRuntime) PullImage(_ context.Context, image string, auth *kruntime.Auth) (kruntime.Image, error) {
	if auth == nil {
		r.pulls = append(r.pulls, "anonymous")
		if strings.HasPrefix(image, "example.test/") {
			return kruntime.Image{}, errors.New("no basic auth credentials")
		}
		return kruntime.Image{Ref: image}, nil
	}
	r.pulls = append(r.pulls, auth.Username)
	if auth.Password != "right" {
		return kruntime.Image{}, errors.New("401 Unauthorized for " + auth.Username)
	}
	return kruntime.Image{Ref: image}, nil
}

func pullSecret(name, config string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(config)}}
}

func drain(rec *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-rec.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func TestEnsureImageWithPullSecrets(t *testing.T) {
	client := fake.NewClientset(
		pullSecret("wrong", `{"auths": {"example.test": {"username": "alice", "password": "nope"}}}`),
		pullSecret("right", `{"auths": {"https://example.test/v1/": {"username": "bob", "password": "right"}, "docker.io": {"username": "hub", "password": "x"}}}`),
		pullSecret("broken", `{"auths": {"example.test": {"auth": "%%%"}}}`),
	)
	for _, tc := range []struct {
		name    string
		image   string
		secrets []string
		ok      bool
		pulls   []string
		// events that must be there, by prefix
		events  []string
		waiting string
	}{
		{name: "each credential in turn until one pulls", image: "example.test/app:v1", secrets: []string{"gone", "wrong", "right"},
			ok: true, pulls: []string{"alice", "bob"},
			events: []string{`Normal Pulling Pulling image "example.test/app:v1"`, `Normal Pulled Successfully pulled image "example.test/app:v1"`}},
		{name: "no credential for the registry: anonymous", image: "registry.k8s.io/pause:3.10", secrets: []string{"wrong", "right"},
			ok: true, pulls: []string{"anonymous"}},
		{name: "all credentials fail: no anonymous pull", image: "example.test/app:v1", secrets: []string{"wrong"},
			pulls: []string{"alice"}, waiting: "401 Unauthorized for alice",
			events: []string{`Warning Failed Failed to pull image "example.test/app:v1": 401 Unauthorized for alice`, "Warning Failed Error: ErrImagePull"}},
		{name: "a missing secret is named after the failed pull", image: "example.test/app:v1", secrets: []string{"gone", ""},
			pulls: []string{"anonymous"}, waiting: "no basic auth credentials",
			events: []string{"Warning FailedToRetrieveImagePullSecret Unable to retrieve some image pull secrets (gone); attempting to pull the image may not succeed."}},
		{name: "a secret that does not parse fails the pull, named", image: "example.test/app:v1", secrets: []string{"right", "broken"},
			waiting: "image pull secret ns/broken: reading .dockerconfigjson", events: []string{"Warning Failed Error: ErrImagePull"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := &authRuntime{}
			rec := record.NewFakeRecorder(100)
			ws := New(context.Background(), Config{Client: client, Runtime: rt, Recorder: rec})
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p", UID: "uid"},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: tc.image, ImagePullPolicy: corev1.PullAlways}}}}
			for _, s := range tc.secrets {
				pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
			}
			w := &worker{waiting: map[string]*corev1.ContainerStateWaiting{}, backoffEvent: map[string]time.Time{}}
			_, ok := ws.ensureImage(context.Background(), w, pod, &pod.Spec.Containers[0])
			if ok != tc.ok || !reflect.DeepEqual(rt.pulls, tc.pulls) {
				t.Errorf("ok %v, pulls %v; want %v, %v", ok, rt.pulls, tc.ok, tc.pulls)
			}
			if tc.waiting != "" {
				if wt := w.waiting["c"]; wt == nil || wt.Reason != ReasonErrImagePull || !strings.Contains(wt.Message, tc.waiting) {
					t.Errorf("waiting %+v, want ErrImagePull with %q", wt, tc.waiting)
				}
			}
			events := drain(rec)
			for _, want := range tc.events {
				found := false
				for _, e := range events {
					found = found || strings.HasPrefix(e, want)
				}
				if !found {
					t.Errorf("no event %q in %q", want, events)
				}
			}
			if tc.ok {
				for _, e := range events {
					if strings.Contains(e, "FailedToRetrieveImagePullSecret") {
						t.Errorf("a successful pull reported missing secrets: %q", e)
					}
				}
			}
		})
	}
}
