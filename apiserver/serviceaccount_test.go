package apiserver_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
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

// TestPodsGetAPIAccessVolumes: kubeseed's API server gives a new pod the
// projected kube-api-access volume and mounts it in every container, as
// upstream's ServiceAccount admission (which envtest's kube-apiserver turns
// off, so this runs against ours only).
func TestPodsGetAPIAccessVolumes(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	p := pod("with-access")
	p.Spec.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
	got, err := s.client.CoreV1().Pods("default").Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.ServiceAccountName != "default" {
		t.Errorf("serviceAccountName = %q, want default", got.Spec.ServiceAccountName)
	}
	var vol *corev1.Volume
	for i := range got.Spec.Volumes {
		if strings.HasPrefix(got.Spec.Volumes[i].Name, "kube-api-access-") {
			vol = &got.Spec.Volumes[i]
		}
	}
	if vol == nil || vol.Projected == nil || len(vol.Projected.Sources) != 3 ||
		vol.Projected.Sources[0].ServiceAccountToken == nil || *vol.Projected.Sources[0].ServiceAccountToken.ExpirationSeconds != 3607 ||
		vol.Projected.Sources[1].ConfigMap == nil || vol.Projected.Sources[1].ConfigMap.Name != "kube-root-ca.crt" ||
		vol.Projected.Sources[2].DownwardAPI == nil {
		t.Fatalf("kube-api-access volume: %+v", got.Spec.Volumes)
	}
	for _, c := range append(got.Spec.InitContainers, got.Spec.Containers...) {
		found := false
		for _, m := range c.VolumeMounts {
			found = found || (m.Name == vol.Name && m.MountPath == "/var/run/secrets/kubernetes.io/serviceaccount" && m.ReadOnly)
		}
		if !found {
			t.Errorf("container %s lacks the service account mount: %+v", c.Name, c.VolumeMounts)
		}
	}

	off := pod("without-access")
	off.Spec.AutomountServiceAccountToken = ptr.To(false)
	got, err = s.client.CoreV1().Pods("default").Create(ctx, off, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Spec.Volumes) != 0 || len(got.Spec.Containers[0].VolumeMounts) != 0 {
		t.Errorf("automountServiceAccountToken false still mounted: %+v", got.Spec.Volumes)
	}
}
