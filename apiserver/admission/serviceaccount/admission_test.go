package serviceaccount

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"
)

// plugin returns a plugin whose cache holds cached and whose client serves
// live (both in namespace ns), with no pauses between retries.
func plugin(t *testing.T, cached []*corev1.ServiceAccount, live ...runtime.Object) (*Plugin, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(live...)
	f := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	p := New()
	p.SetExternalKubeClientSet(client)
	p.SetExternalKubeInformerFactory(f)
	for _, sa := range cached {
		if err := f.Core().V1().ServiceAccounts().Informer().GetIndexer().Add(sa); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.ValidateInitialization(); err != nil {
		t.Fatal(err)
	}
	p.generateName = func(prefix string) string { return prefix + "abcde" }
	p.retryInterval = func() time.Duration { return time.Millisecond }
	return p, client
}

func account(name string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"}}
}

func newPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
}

func attributes(pod *corev1.Pod, op admission.Operation, subresource string) admission.Attributes {
	return admission.NewAttributesRecord(pod, nil, corev1.SchemeGroupVersion.WithKind("Pod"), "ns", pod.Name,
		corev1.SchemeGroupVersion.WithResource("pods"), subresource, op, nil, false, nil)
}

func admit(p *Plugin, pod *corev1.Pod) error {
	a := attributes(pod, admission.Create, "")
	if err := p.Admit(context.Background(), a, nil); err != nil {
		return err
	}
	return p.Validate(context.Background(), a, nil)
}

// countGets counts the client's live reads of service accounts.
func countGets(c *fake.Clientset) *atomic.Int32 {
	var n atomic.Int32
	c.PrependReactor("get", "serviceaccounts", func(clienttesting.Action) (bool, runtime.Object, error) {
		n.Add(1)
		return false, nil, nil
	})
	return &n
}

func TestLookupRetriesOnlyTheDefaultAccount(t *testing.T) {
	for _, tc := range []struct {
		account   string
		wantGets  int32
		wantError string
	}{
		{"default", defaultAttempts, `pods "p" is forbidden: error looking up service account ns/default: serviceaccount "default" not found`},
		{"robot", 1, `pods "p" is forbidden: error looking up service account ns/robot: serviceaccount "robot" not found`},
	} {
		p, client := plugin(t, nil)
		gets := countGets(client)
		pod := newPod("p")
		pod.Spec.ServiceAccountName = tc.account
		err := admit(p, pod)
		if !apierrors.IsForbidden(err) || err.Error() != tc.wantError {
			t.Errorf("%s: err = %v, want %s", tc.account, err, tc.wantError)
		}
		if got := gets.Load(); got != tc.wantGets {
			t.Errorf("%s: %d live reads, want %d", tc.account, got, tc.wantGets)
		}
	}

	// An account not cached yet is read live.
	p, _ := plugin(t, nil, account("default"))
	pod := newPod("p")
	if err := admit(p, pod); err != nil || pod.Spec.ServiceAccountName != "default" || pod.Spec.DeprecatedServiceAccount != "default" { //nolint:staticcheck // kept in step
		t.Errorf("account read live: %v, serviceAccountName %q", err, pod.Spec.ServiceAccountName)
	}
}

func TestMountToken(t *testing.T) {
	mount := corev1.VolumeMount{Name: "kube-api-access-abcde", ReadOnly: true, MountPath: TokenMountPath}
	for _, tc := range []struct {
		name        string
		edit        func(*corev1.Pod)
		wantVolumes int
		wantMounts  [][]corev1.VolumeMount // init containers', then app containers'
	}{
		{"every container", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i"}}
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "e"}}}
		}, 1, [][]corev1.VolumeMount{{mount}, {mount}}},
		{"own mount at the path", func(p *corev1.Pod) {
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "x", MountPath: TokenMountPath}}
		}, 0, [][]corev1.VolumeMount{{{Name: "x", MountPath: TokenMountPath}}}},
		{"existing kube-api-access volume", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "kube-api-access-given", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}, 1, [][]corev1.VolumeMount{{{Name: "kube-api-access-given", ReadOnly: true, MountPath: TokenMountPath}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := plugin(t, []*corev1.ServiceAccount{account("default")})
			pod := newPod("p")
			tc.edit(pod)
			if err := admit(p, pod); err != nil {
				t.Fatal(err)
			}
			if len(pod.Spec.Volumes) != tc.wantVolumes {
				t.Errorf("volumes %+v, want %d", pod.Spec.Volumes, tc.wantVolumes)
			}
			var got [][]corev1.VolumeMount
			for _, c := range pod.Spec.InitContainers {
				got = append(got, c.VolumeMounts)
			}
			for _, c := range pod.Spec.Containers {
				got = append(got, c.VolumeMounts)
			}
			if len(got) != len(tc.wantMounts) {
				t.Fatalf("mounts %+v, want %+v", got, tc.wantMounts)
			}
			for i := range got {
				if !apiequality.Semantic.DeepEqual(got[i], tc.wantMounts[i]) {
					t.Errorf("container %d mounts %+v, want %+v", i, got[i], tc.wantMounts[i])
				}
			}
			for _, e := range pod.Spec.EphemeralContainers {
				if len(e.VolumeMounts) != 0 {
					t.Errorf("ephemeral container got mounts %+v", e.VolumeMounts)
				}
			}
		})
	}
}

func TestAutomountAndPullSecrets(t *testing.T) {
	off := account("quiet")
	off.AutomountServiceAccountToken = ptr.To(false)
	off.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "registry"}}
	p, _ := plugin(t, []*corev1.ServiceAccount{off})
	pod := newPod("p")
	pod.Spec.ServiceAccountName = "quiet"
	if err := admit(p, pod); err != nil {
		t.Fatal(err)
	}
	if len(pod.Spec.Volumes) != 0 || len(pod.Spec.ImagePullSecrets) != 1 || pod.Spec.ImagePullSecrets[0].Name != "registry" {
		t.Errorf("volumes %+v, imagePullSecrets %+v", pod.Spec.Volumes, pod.Spec.ImagePullSecrets)
	}
	pod = newPod("own-pull-secret")
	pod.Spec.ServiceAccountName = "quiet"
	pod.Spec.AutomountServiceAccountToken = ptr.To(true)
	pod.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "mine"}}
	if err := admit(p, pod); err != nil {
		t.Fatal(err)
	}
	if len(pod.Spec.Volumes) != 1 || len(pod.Spec.ImagePullSecrets) != 1 || pod.Spec.ImagePullSecrets[0].Name != "mine" {
		t.Errorf("volumes %+v, imagePullSecrets %+v", pod.Spec.Volumes, pod.Spec.ImagePullSecrets)
	}
}

func TestMountableSecrets(t *testing.T) {
	strict := account("strict")
	strict.Annotations = map[string]string{EnforceMountableSecretsAnnotation: "true"}
	strict.Secrets = []corev1.ObjectReference{{Name: "ok"}}
	strict.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "pull"}}
	lax := account("lax")
	lax.Annotations = map[string]string{EnforceMountableSecretsAnnotation: "no"}
	envFrom := func(name string) []corev1.EnvFromSource {
		return []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}}
	}
	env := func(name string) []corev1.EnvVar {
		return []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}}}
	}
	for _, tc := range []struct {
		name, account string
		edit          func(*corev1.Pod)
		want          string
	}{
		{"allowed", "strict", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "ok"}}}}
			p.Spec.Containers[0].EnvFrom = envFrom("ok")
		}, ""},
		{"pull secret from the account", "strict", func(*corev1.Pod) {}, ""},
		{"not enforced", "lax", func(p *corev1.Pod) { p.Spec.Containers[0].EnvFrom = envFrom("any") }, ""},
		{"projected secrets are not checked", "strict", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "other"}}}}}}}}
		}, ""},
		{"init container env", "strict", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "i", Env: env("other")}}
		}, `init container i with envVar V referencing secret.secretName="other" is not allowed because service account strict does not reference that secret`},
		{"container envFrom", "strict", func(p *corev1.Pod) { p.Spec.Containers[0].EnvFrom = envFrom("other") },
			`container c with envFrom referencing secret.secretName="other" is not allowed because service account strict does not reference that secret`},
		{"volume before containers", "strict", func(p *corev1.Pod) {
			p.Spec.Containers[0].EnvFrom = envFrom("other")
			p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol"}}}}
		}, `volume with secret.secretName="vol" is not allowed because service account strict does not reference that secret`},
		{"own pull secret", "strict", func(p *corev1.Pod) {
			p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "pull"}, {Name: "mine"}}
		},
			`imagePullSecrets[1].name="mine" is not allowed because service account strict does not reference that imagePullSecret`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := plugin(t, []*corev1.ServiceAccount{strict, lax})
			pod := newPod("p")
			pod.Spec.ServiceAccountName = tc.account
			tc.edit(pod)
			err := admit(p, pod)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("err = %v, want admitted", err)
			case tc.want != "" && (!apierrors.IsForbidden(err) || err.Error() != `pods "p" is forbidden: `+tc.want):
				t.Errorf("err = %v, want 403 %q", err, tc.want)
			}
		})
	}

	// pods/ephemeralcontainers: the new containers' references are checked.
	p, _ := plugin(t, []*corev1.ServiceAccount{strict})
	pod := newPod("p")
	pod.Spec.ServiceAccountName = "strict"
	pod.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", EnvFrom: envFrom("other")}}}
	err := p.Validate(context.Background(), attributes(pod, admission.Update, "ephemeralcontainers"), nil)
	// Not a 403: upstream returns the bare error, which clients see as a 500.
	if want := `ephemeral container debug with envFrom referencing secret.secretName="other" is not allowed because service account strict does not reference that secret`; err == nil || err.Error() != want || apierrors.IsForbidden(err) {
		t.Errorf("ephemeral containers: %v, want the bare error %s", err, want)
	}
	// Other updates and subresources are not the plugin's.
	if err := p.Validate(context.Background(), attributes(pod, admission.Update, ""), nil); err != nil {
		t.Errorf("pod update: %v", err)
	}
	if err := p.Admit(context.Background(), attributes(newPod("q"), admission.Create, "status"), nil); err != nil {
		t.Errorf("status: %v", err)
	}
}

func TestMirrorPods(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*corev1.Pod)
		want string
	}{
		{"plain", func(*corev1.Pod) {}, ""},
		{"service account", func(p *corev1.Pod) { p.Spec.ServiceAccountName = "default" }, "a mirror pod may not reference service accounts"},
		{"pull secret", func(p *corev1.Pod) { p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "x"}} }, "a mirror pod may not reference secrets"},
		{"empty pull secret name", func(p *corev1.Pod) { p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{}} }, ""},
		{"csi secret", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "d",
				NodePublishSecretRef: &corev1.LocalObjectReference{Name: "x"}}}}}
		}, "a mirror pod may not reference secrets"},
		{"ephemeral container env", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "e",
				Env: []corev1.EnvVar{{Name: "V", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}}}}}}}}
		}, "a mirror pod may not reference secrets"},
		{"token projection", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "t"}}}}}}}
		}, "a mirror pod may not use ServiceAccountToken volume projections"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := plugin(t, nil)
			pod := newPod("m")
			pod.Annotations = map[string]string{MirrorPodAnnotation: ""}
			tc.edit(pod)
			before := pod.DeepCopy()
			err := admit(p, pod)
			if tc.want == "" {
				if err != nil {
					t.Errorf("err = %v, want admitted", err)
				}
				if pod.Spec.ServiceAccountName != before.Spec.ServiceAccountName || len(pod.Spec.Volumes) != len(before.Spec.Volumes) {
					t.Errorf("mirror pod changed: %+v", pod.Spec)
				}
				return
			}
			if !apierrors.IsForbidden(err) || !strings.HasSuffix(err.Error(), ": "+tc.want) {
				t.Errorf("err = %v, want 403 %q", err, tc.want)
			}
		})
	}
}
