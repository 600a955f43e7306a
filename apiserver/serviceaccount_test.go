package apiserver_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kubeseed/kubeseed/apiserver"
	serviceaccountadmission "github.com/kubeseed/kubeseed/apiserver/admission/serviceaccount"
)

// asToken is cfg authenticating with a bearer token only.
func asToken(cfg *rest.Config, token string) kubernetes.Interface {
	c := rest.AnonymousClientConfig(cfg)
	c.BearerToken = token
	return kubernetes.NewForConfigOrDie(c)
}

// TestServiceAccountTokens: a TokenRequest (kubectl create token) returns a
// token that authenticates as the service account, bound tokens die with
// their pod, and every token dies with its service account.
func TestServiceAccountTokens(t *testing.T) {
	for name, cp := range controlPlanes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			admin := kubernetes.NewForConfigOrDie(cp.config)
			sa, err := admin.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, "robot", &authenticationv1.TokenRequest{
				Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](60)}}, metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.expirationSeconds") {
				t.Errorf("a 60 s token: %v, want 422 on spec.expirationSeconds", err)
			}
			if _, err := admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, "nobody", &authenticationv1.TokenRequest{}, metav1.CreateOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("token of a missing service account: %v, want NotFound", err)
			}

			bin := ""
			for _, b := range kubectls(t) {
				bin = b
				break
			}
			token := strings.TrimSpace(kubectl(t, bin, cp.kubeconfig, "", "create", "token", "robot"))
			robot := asToken(cp.config, token)
			review, err := robot.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			u := review.Status.UserInfo
			if u.Username != "system:serviceaccount:default:robot" || u.UID != string(sa.UID) ||
				!slices.Contains(u.Groups, "system:serviceaccounts") || !slices.Contains(u.Groups, "system:serviceaccounts:default") || !slices.Contains(u.Groups, "system:authenticated") {
				t.Errorf("whoami as robot: %+v", u)
			}

			// A token bound to a pod stops working when the pod goes.
			p := pod("robot-pod")
			p.Spec.ServiceAccountName = "robot"
			if _, err := admin.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			tr, err := admin.CoreV1().ServiceAccounts("default").CreateToken(ctx, "robot", &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
				BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: "robot-pod"}}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Until(tr.Status.ExpirationTimestamp.Time); d < 55*time.Minute || d > 61*time.Minute {
				t.Errorf("default token lifetime: expires in %v, want an hour", d)
			}
			bound := asToken(cp.config, tr.Status.Token)
			// Who-am-I needs no RBAC grant, so it tells authentication alone.
			whoami := func(c kubernetes.Interface) error {
				_, err := c.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
				return err
			}
			if err := whoami(bound); err != nil {
				t.Fatalf("bound token while its pod runs: %v", err)
			}
			if err := admin.CoreV1().Pods("default").Delete(ctx, "robot-pod", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the bound token to be refused", func() error {
				if err := whoami(bound); !apierrors.IsUnauthorized(err) {
					return fmt.Errorf("got %v, want 401 Unauthorized", err)
				}
				return nil
			})

			// Deleting the service account ends its tokens.
			if err := admin.CoreV1().ServiceAccounts("default").Delete(ctx, "robot", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the token of a deleted service account to be refused", func() error {
				if err := whoami(robot); !apierrors.IsUnauthorized(err) {
					return fmt.Errorf("got %v, want 401 Unauthorized", err)
				}
				return nil
			})
		})
	}
}

// admittingPlanes are kubeseed's API server and upstream kube-apiserver (when
// built) with the ServiceAccount admission plugin on, as `kubeseed apiserver`
// and kube-apiserver run by default (envtest and the shared test server turn
// it off). Neither runs the controller that creates default service
// accounts: tests create the ones they need.
func admittingPlanes(t *testing.T) map[string]controlPlane {
	t.Helper()
	s := startConfig(t, apiserver.Config{DataDir: t.TempDir(), SecurePort: freePort(t)})
	out := map[string]controlPlane{"kubeseed": {config: s.config, kubeconfig: s.kubeconfig}}
	if up, ok := upstreamPlane(t, func(env *envtest.Environment) {
		env.ControlPlane.GetAPIServer().Configure().Disable("disable-admission-plugins")
	}); ok {
		out["upstream"] = up
	}
	return out
}

// forbidden checks err is the 403 a user sees from admission, word for word.
func forbidden(t *testing.T, err error, message string) {
	t.Helper()
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		t.Errorf("err = %v, want 403 %q", err, message)
		return
	}
	s := status.Status()
	if s.Code != 403 || s.Reason != metav1.StatusReasonForbidden || s.Message != message || s.Details == nil || s.Details.Kind != "pods" {
		t.Errorf("got %d %s %q (details %+v), want 403 Forbidden %q on pods", s.Code, s.Reason, s.Message, s.Details, message)
	}
}

// tokenVolume returns the pod's kube-api-access volume.
func tokenVolume(p *corev1.Pod) *corev1.Volume {
	for i := range p.Spec.Volumes {
		if strings.HasPrefix(p.Spec.Volumes[i].Name, "kube-api-access-") {
			return &p.Spec.Volumes[i]
		}
	}
	return nil
}

// TestServiceAccountAdmission: with the ServiceAccount admission plugin on,
// kubeseed's API server admits pods as kube-apiserver does: a pod runs as
// "default" unless it names an account, one whose account is missing is
// refused with upstream's 403 (after retrying a while for "default"), pods
// get the kube-api-access volume unless automounting is off and the
// account's image pull secrets, accounts can limit the secrets their pods
// use, and mirror pods may reference no account, secret or token.
func TestServiceAccountAdmission(t *testing.T) {
	for name, cp := range admittingPlanes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			c := kubernetes.NewForConfigOrDie(cp.config)
			namespace := func(ns string) {
				t.Helper()
				if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			account := func(ns string, sa *corev1.ServiceAccount) {
				t.Helper()
				if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			create := func(ns string, p *corev1.Pod) (*corev1.Pod, error) {
				return c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
			}
			mustCreate := func(ns string, p *corev1.Pod) *corev1.Pod {
				t.Helper()
				got, err := create(ns, p)
				if err != nil {
					t.Fatalf("creating pod %s: %v", p.Name, err)
				}
				return got
			}

			// No default account: refused, after retrying for a second or so.
			namespace("sa-missing")
			began := time.Now()
			_, err := create("sa-missing", pod("no-default"))
			forbidden(t, err, `pods "no-default" is forbidden: error looking up service account sa-missing/default: serviceaccount "default" not found`)
			if d := time.Since(began); d < 800*time.Millisecond {
				t.Errorf("refused after %v, want the default account looked up for about a second first", d)
			}
			p := pod("names-nobody")
			p.Spec.ServiceAccountName = "nobody"
			_, err = create("sa-missing", p)
			forbidden(t, err, `pods "names-nobody" is forbidden: error looking up service account sa-missing/nobody: serviceaccount "nobody" not found`)
			// A pod of a namespace that does not exist hears of the namespace.
			if _, err := create("sa-no-such-namespace", pod("p")); !apierrors.IsNotFound(err) {
				t.Errorf("pod in a missing namespace: %v, want 404", err)
			}

			// The default account created while a pod waits for it.
			namespace("sa-late")
			done := make(chan error, 1)
			go func() {
				_, err := create("sa-late", pod("waits"))
				done <- err
			}()
			time.Sleep(200 * time.Millisecond)
			account("sa-late", &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}})
			if err := <-done; err != nil {
				t.Errorf("pod created while the default account appeared: %v", err)
			}

			namespace("sa")
			account("sa", &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}})
			p = pod("with-access")
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
			got := mustCreate("sa", p)
			if got.Spec.ServiceAccountName != "default" || got.Spec.DeprecatedServiceAccount != "default" { //nolint:staticcheck // upstream keeps the alias
				t.Errorf("serviceAccountName %q (serviceAccount %q), want default", got.Spec.ServiceAccountName, got.Spec.DeprecatedServiceAccount) //nolint:staticcheck
			}
			vol := tokenVolume(got)
			if vol == nil || len(got.Spec.Volumes) != 1 || len(vol.Name) != len("kube-api-access-")+5 {
				t.Fatalf("volumes %+v, want one kube-api-access-xxxxx", got.Spec.Volumes)
			}
			if want := serviceaccountadmission.TokenVolumeSource(); !apiequality.Semantic.DeepEqual(vol.VolumeSource, corev1.VolumeSource{Projected: want}) {
				t.Errorf("kube-api-access volume:\n%s\nwant\n%s", toJSON(vol.VolumeSource), toJSON(corev1.VolumeSource{Projected: want}))
			}
			for _, ctr := range append(got.Spec.InitContainers, got.Spec.Containers...) {
				want := []corev1.VolumeMount{{Name: vol.Name, ReadOnly: true, MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}
				if !apiequality.Semantic.DeepEqual(ctr.VolumeMounts, want) {
					t.Errorf("container %s mounts %+v, want %+v", ctr.Name, ctr.VolumeMounts, want)
				}
			}

			// A container mounting something of its own at the path keeps it.
			p = pod("own-mount")
			p.Spec.Volumes = []corev1.Volume{{Name: "mine", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "mine", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "other", Image: "busybox"})
			got = mustCreate("sa", p)
			if vol := tokenVolume(got); vol == nil || len(got.Spec.Containers[0].VolumeMounts) != 1 || len(got.Spec.Containers[1].VolumeMounts) != 1 || got.Spec.Containers[1].VolumeMounts[0].Name != vol.Name {
				t.Errorf("own mount: volumes %+v, mounts %+v and %+v", got.Spec.Volumes, got.Spec.Containers[0].VolumeMounts, got.Spec.Containers[1].VolumeMounts)
			}

			// Automounting: the pod's choice, else the account's.
			account("sa", &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "quiet"}, AutomountServiceAccountToken: ptr.To(false),
				ImagePullSecrets: []corev1.LocalObjectReference{{Name: "registry"}}})
			for _, tc := range []struct {
				name, account string
				pod           *bool
				want          bool
			}{
				{"pod-off", "default", ptr.To(false), false},
				{"account-off", "quiet", nil, false},
				{"pod-on-account-off", "quiet", ptr.To(true), true},
			} {
				p := pod(tc.name)
				p.Spec.ServiceAccountName, p.Spec.AutomountServiceAccountToken = tc.account, tc.pod
				got := mustCreate("sa", p)
				if has := tokenVolume(got) != nil; has != tc.want || (!tc.want && (len(got.Spec.Volumes) != 0 || len(got.Spec.Containers[0].VolumeMounts) != 0)) {
					t.Errorf("%s: volumes %+v, mounts %+v, want token volume %v", tc.name, got.Spec.Volumes, got.Spec.Containers[0].VolumeMounts, tc.want)
				}
				if tc.account == "quiet" && (len(got.Spec.ImagePullSecrets) != 1 || got.Spec.ImagePullSecrets[0].Name != "registry") {
					t.Errorf("%s: imagePullSecrets %+v, want the account's", tc.name, got.Spec.ImagePullSecrets)
				}
			}

			// An account enforcing mountable secrets.
			account("sa", &corev1.ServiceAccount{
				ObjectMeta: metav1.ObjectMeta{Name: "strict", Annotations: map[string]string{"kubernetes.io/enforce-mountable-secrets": "true"}},
				Secrets:    []corev1.ObjectReference{{Name: "allowed"}},
			})
			strict := func(name string, edit func(*corev1.Pod)) *corev1.Pod {
				p := pod(name)
				p.Spec.ServiceAccountName = "strict"
				edit(p)
				return p
			}
			secretVolume := func(secret string) func(*corev1.Pod) {
				return func(p *corev1.Pod) {
					p.Spec.Volumes = []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}}
				}
			}
			mustCreate("sa", strict("strict-allowed", secretVolume("allowed")))
			_, err = create("sa", strict("strict-volume", secretVolume("other")))
			forbidden(t, err, `pods "strict-volume" is forbidden: volume with secret.secretName="other" is not allowed because service account strict does not reference that secret`)
			_, err = create("sa", strict("strict-env", func(p *corev1.Pod) {
				p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{
					SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "other"}, Key: "password"}}}}
			}))
			forbidden(t, err, `pods "strict-env" is forbidden: container c with envVar PASSWORD referencing secret.secretName="other" is not allowed because service account strict does not reference that secret`)
			_, err = create("sa", strict("strict-pull", func(p *corev1.Pod) {
				p.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "registry"}}
			}))
			forbidden(t, err, `pods "strict-pull" is forbidden: imagePullSecrets[0].name="registry" is not allowed because service account strict does not reference that imagePullSecret`)

			// Mirror pods: left alone, and refused when they reference an
			// account, a secret or a token.
			mirror := func(name string) *corev1.Pod {
				p := pod(name)
				p.Annotations = map[string]string{"kubernetes.io/config.mirror": "hash"}
				p.Spec.NodeName = "node-a"
				return p
			}
			p = mirror("mirror-nowhere")
			p.Spec.NodeName = ""
			if _, err := create("sa", p); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "must set spec.nodeName if mirror pod annotation is set") {
				t.Errorf("mirror pod on no node: %v, want 422 asking for spec.nodeName", err)
			}
			got = mustCreate("sa", mirror("mirror"))
			if got.Spec.ServiceAccountName != "" || len(got.Spec.Volumes) != 0 {
				t.Errorf("mirror pod changed: serviceAccountName %q, volumes %+v", got.Spec.ServiceAccountName, got.Spec.Volumes)
			}
			p = mirror("mirror-account")
			p.Spec.ServiceAccountName = "default"
			_, err = create("sa", p)
			forbidden(t, err, `pods "mirror-account" is forbidden: a mirror pod may not reference service accounts`)
			p = mirror("mirror-secret")
			p.Spec.Containers[0].EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "allowed"}}}}
			_, err = create("sa", p)
			forbidden(t, err, `pods "mirror-secret" is forbidden: a mirror pod may not reference secrets`)
			p = mirror("mirror-token")
			p.Spec.Volumes = []corev1.Volume{{Name: "t", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}}}
			_, err = create("sa", p)
			forbidden(t, err, `pods "mirror-token" is forbidden: a mirror pod may not use ServiceAccountToken volume projections`)
		})
	}
}

// TestServiceAccountAdmissionDisabled: with the plugin off (envtest's
// kube-apiserver, kubeseed's with DisableAdmissionPlugins), a pod keeps the
// service account it names, existing or not, gets none when it names none,
// and no token volume.
func TestServiceAccountAdmissionDisabled(t *testing.T) {
	for name, cp := range controlPlanes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			c := kubernetes.NewForConfigOrDie(cp.config)
			if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "sa-off"}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			got, err := c.CoreV1().Pods("sa-off").Create(ctx, pod("no-account"), metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Spec.ServiceAccountName != "" || len(got.Spec.Volumes) != 0 || len(got.Spec.Containers[0].VolumeMounts) != 0 {
				t.Errorf("pod naming no account: serviceAccountName %q, volumes %+v", got.Spec.ServiceAccountName, got.Spec.Volumes)
			}
			p := pod("names-nobody")
			p.Spec.ServiceAccountName = "nobody"
			got, err = c.CoreV1().Pods("sa-off").Create(ctx, p, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("pod naming a missing account: %v, want it accepted", err)
			}
			if got.Spec.ServiceAccountName != "nobody" || len(got.Spec.Volumes) != 0 {
				t.Errorf("pod naming nobody: serviceAccountName %q, volumes %+v", got.Spec.ServiceAccountName, got.Spec.Volumes)
			}
		})
	}
}

func toJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
