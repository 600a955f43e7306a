package namespace_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestNamespaceDeletionRemovesContentThenTheNamespace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const ns = "doomed"
	labels := map[string]string{"app": "web"}
	held := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "held", Finalizers: []string{"example.com/hold"}}}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "default"}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings"}, Data: map[string]string{"k": "v"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "token"}, StringData: map[string]string{"k": "v"}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}, Spec: corev1.ServiceSpec{
			Selector: labels, Ports: []corev1.ServicePort{{Port: 80}}}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pending"}, Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"}, Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}}},
		}},
		held,
	}
	for _, o := range objs {
		if err := k8sClient.Create(ctx, o); err != nil {
			t.Fatalf("create %T %s: %v", o, o.GetName(), err)
		}
	}
	if err := k8sClient.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}

	// Everything without a finalizer goes; the held ConfigMap is reported.
	eventually(t, ctx, "conditions report the held configmap", func() error {
		var got corev1.Namespace
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: ns}, &got); err != nil {
			return err
		}
		want := map[corev1.NamespaceConditionType]string{
			corev1.NamespaceContentRemaining:         "True/SomeResourcesRemain/Some resources are remaining: configmaps. has 1 resource instances",
			corev1.NamespaceFinalizersRemaining:      "True/SomeFinalizersRemain/Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances",
			corev1.NamespaceDeletionContentFailure:   "False/ContentDeleted/All content successfully deleted, may be waiting on finalization",
			corev1.NamespaceDeletionDiscoveryFailure: "False/ResourcesDiscovered/All resources successfully discovered",
		}
		for _, c := range got.Status.Conditions {
			if w, ok := want[c.Type]; ok {
				if g := fmt.Sprintf("%s/%s/%s", c.Status, c.Reason, c.Message); g != w {
					return fmt.Errorf("%s = %q, want %q", c.Type, g, w)
				}
				delete(want, c.Type)
			}
		}
		if len(want) > 0 {
			return fmt.Errorf("missing conditions %v (have %+v)", want, got.Status.Conditions)
		}
		if got.Status.Phase != corev1.NamespaceTerminating {
			return fmt.Errorf("phase %s", got.Status.Phase)
		}
		return nil
	})
	for _, list := range []client.ObjectList{&corev1.PodList{}, &corev1.SecretList{}, &corev1.ServiceList{}, &appsv1.DeploymentList{}, &corev1.ServiceAccountList{}} {
		if err := k8sClient.List(ctx, list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		if n := len(mustItems(t, list)); n != 0 {
			t.Errorf("%T still has %d items in the terminating namespace", list, n)
		}
	}

	// Releasing the finalizer lets the namespace go.
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(held), held); err != nil {
		t.Fatal(err)
	}
	held.Finalizers = nil
	if err := k8sClient.Update(ctx, held); err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "namespace disappears", func() error {
		err := k8sClient.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil {
			return errors.New("still there")
		}
		return err
	})
}

func mustItems(t *testing.T, list client.ObjectList) []runtime.Object {
	t.Helper()
	items, err := meta.ExtractList(list)
	if err != nil {
		t.Fatal(err)
	}
	return items
}
