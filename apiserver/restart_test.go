package apiserver_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRestartKeepsObjects(t *testing.T) {
	dir := t.TempDir()
	first := start(t, dir)
	ctx := ctxT(t)
	if _, err := first.client.AppsV1().Deployments("default").Create(ctx, deployment("durable"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := first.client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "durable"},
		Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	caBefore := first.config.CAData
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}

	second := start(t, dir)
	if string(second.config.CAData) != string(caBefore) {
		t.Error("restart replaced the CA")
	}
	d, err := second.client.AppsV1().Deployments("default").Get(ctx, "durable", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("deployment after restart: %v", err)
	}
	if d.Spec.Template.Spec.Containers[0].Image != "busybox:1.35" {
		t.Errorf("deployment after restart: %+v", d.Spec)
	}
	got, err := second.client.CoreV1().Services("default").Get(ctx, "durable", metav1.GetOptions{})
	if err != nil || got.Spec.ClusterIP != svc.Spec.ClusterIP {
		t.Fatalf("service after restart: %v %v", got, err)
	}
	// The allocation survived too: the same IP cannot be handed out again.
	dup := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "dup"},
		Spec: corev1.ServiceSpec{ClusterIP: svc.Spec.ClusterIP, Ports: []corev1.ServicePort{{Port: 80}}}}
	if _, err := second.client.CoreV1().Services("default").Create(ctx, dup, metav1.CreateOptions{}); err == nil {
		t.Error("a restarted server handed out an allocated cluster IP again")
	}
}
