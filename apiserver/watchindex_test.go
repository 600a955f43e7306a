package apiserver_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/component-base/metrics/legacyregistry"
)

// TestPodsIndexedByNodeName checks what node agents rely on at scale: a
// node's pod watch (fieldSelector spec.nodeName) gets its pods, including one
// bound to it later, and nothing of other nodes; and a list by node is served
// from the watch cache's spec.nodeName index.
func TestPodsIndexedByNodeName(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	pods := s.client.CoreV1().Pods("default")
	onNode := func(name, node string) *corev1.Pod {
		p := pod(name)
		p.Spec.NodeName = node
		return p
	}
	if _, err := pods.Create(ctx, onNode("ix-a1", "ix-node-a"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=ix-node-a"})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list by node: %v %v", list, err)
	}
	w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=ix-node-a", ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := pods.Create(ctx, onNode("ix-b1", "ix-node-b"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Create(ctx, pod("ix-pending"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "ix-pending"}, Target: corev1.ObjectReference{Kind: "Node", Name: "ix-node-a"}}
	if err := pods.Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		p, ok := ev.Object.(*corev1.Pod)
		if !ok || ev.Type != watch.Added || p.Name != "ix-pending" {
			t.Fatalf("first event %s %#v, want the bound pod ADDED (and nothing of ix-node-b)", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event for the pod bound to the node")
	}

	before := cacheListsByIndex(t, "f:spec.nodeName")
	if _, err := pods.List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=ix-node-b", ResourceVersion: "0"}); err != nil {
		t.Fatal(err)
	}
	if after := cacheListsByIndex(t, "f:spec.nodeName"); after != before+1 {
		t.Errorf("lists of pods served through the spec.nodeName index: %v, then %v; want one more", before, after)
	}
}

// cacheListsByIndex reads the watch cache's count of pod lists served
// through index (apiserver_cache_list_total; the server runs in this process).
func cacheListsByIndex(t *testing.T, index string) float64 {
	t.Helper()
	families, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, f := range families {
		if f.GetName() != "apiserver_cache_list_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["resource"] == "pods" && labels["index"] == index {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}
