package apiserver_test

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// TestRequestBodyLimit: a request body over 3 MiB (kube-apiserver's
// --max-request-bytes default for objects) is refused with 413
// RequestEntityTooLarge before it is decoded, a create, an update, a patch or
// kubectl's, as upstream does; a smaller body that is still too big for a
// ConfigMap or Secret (1 MiB) is refused by validation.
func TestRequestBodyLimit(t *testing.T) {
	compareControlPlanes(t, func(t *testing.T, cp controlPlane) map[string]string {
		ctx := ctxT(t)
		admin := kubernetes.NewForConfigOrDie(cp.config)
		cms := admin.CoreV1().ConfigMaps("default")
		seen := map[string]string{}
		result := func(key string) func(any, error) {
			return func(_ any, err error) {
				seen[key] = "ok"
				if err != nil {
					seen[key] = fmt.Sprintf("%s: %s", apierrors.ReasonForError(err), err.Error())
				}
			}
		}
		big := strings.Repeat("x", 4<<20)
		cm := func(name, value string) *corev1.ConfigMap {
			return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"v": value}}
		}
		_, err := cms.Create(ctx, cm("too-big", big), metav1.CreateOptions{})
		result("create of 4 MiB")(nil, err)
		if !apierrors.IsRequestEntityTooLargeError(err) {
			t.Errorf("create of 4 MiB: %v, want 413", err)
		}
		result("create of 1.5 MiB")(cms.Create(ctx, cm("big", strings.Repeat("x", 3<<19)), metav1.CreateOptions{}))
		result("secret of 1.5 MiB")(admin.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "big"},
			Data: map[string][]byte{"a": make([]byte, 1<<19), "b": make([]byte, 1<<20)}}, metav1.CreateOptions{}))
		small, err := cms.Create(ctx, cm("small", "x"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		small.Data["v"] = big
		result("update to 4 MiB")(cms.Update(ctx, small, metav1.UpdateOptions{}))
		result("merge patch of 4 MiB")(cms.Patch(ctx, "small", types.MergePatchType, []byte(`{"data":{"v":"`+big+`"}}`), metav1.PatchOptions{}))
		if got, err := cms.Get(ctx, "small", metav1.GetOptions{}); err != nil || got.Data["v"] != "x" {
			t.Errorf("after refused writes: %v", err)
		}

		manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kubectl-too-big\ndata:\n  v: " + big + "\n"
		seen["kubectl create -f of 4 MiB"], _ = kubectlErr(kubectlAny(t), cp.kubeconfig, manifest, "create", "-f", "-")
		if !strings.Contains(seen["kubectl create -f of 4 MiB"], "RequestEntityTooLarge") {
			t.Errorf("kubectl create of 4 MiB: %s", seen["kubectl create -f of 4 MiB"])
		}
		return seen
	})
}
