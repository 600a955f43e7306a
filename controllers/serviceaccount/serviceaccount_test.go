package serviceaccount_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeseed/kubeseed/controllers/serviceaccount"
)

func TestEveryNamespaceGetsDefaultServiceAccountAndRootCA(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const ns = "team-a"
	if err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{}
	eventually(t, ctx, "default service account", func() error {
		return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "default"}, sa)
	})
	// Existing namespaces got theirs too.
	eventually(t, ctx, "default service account in kube-system", func() error {
		return k8sClient.Get(ctx, client.ObjectKey{Namespace: "kube-system", Name: "default"}, &corev1.ServiceAccount{})
	})
	cm := &corev1.ConfigMap{}
	eventually(t, ctx, "kube-root-ca.crt", func() error {
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "kube-root-ca.crt"}, cm); err != nil {
			return err
		}
		if cm.Data["ca.crt"] == "" || cm.Annotations["kubernetes.io/description"] != serviceaccount.Description {
			return fmt.Errorf("configmap data %v annotations %v", cm.Data, cm.Annotations)
		}
		return nil
	})
	// Deleted, it comes back; a tampered CA is put right.
	if err := k8sClient.Delete(ctx, sa); err != nil {
		t.Fatal(err)
	}
	want := cm.Data["ca.crt"]
	cm.Data["ca.crt"] = "tampered"
	if err := k8sClient.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "default service account recreated and CA restored", func() error {
		var got corev1.ServiceAccount
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "default"}, &got); err != nil {
			return err
		}
		if got.UID == sa.UID {
			return fmt.Errorf("still the deleted service account")
		}
		var cur corev1.ConfigMap
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(cm), &cur); err != nil {
			return err
		}
		if cur.Data["ca.crt"] != want {
			return fmt.Errorf("ca.crt = %q", cur.Data["ca.crt"])
		}
		return nil
	})
}
