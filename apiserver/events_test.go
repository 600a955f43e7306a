package apiserver_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// TestEventsAreOneStoreForBothAPIs: an Event written through core v1 is the
// same object through events.k8s.io/v1 (get and watch), and the other way
// round, as upstream serves them.
func TestEventsAreOneStoreForBothAPIs(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	list, err := s.client.EventsV1().Events("default").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.client.EventsV1().Events("default").Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, FieldSelector: "metadata.name=core-written"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	now := metav1.Now()
	_, err = s.client.CoreV1().Events("default").Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "core-written"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web", APIVersion: "v1"},
		Reason:         "Pulled", Message: "Container image already present", Type: corev1.EventTypeNormal,
		Source: corev1.EventSource{Component: "kubelet", Host: "node-1"}, FirstTimestamp: now, LastTimestamp: now, Count: 2,
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		e, ok := ev.Object.(*eventsv1.Event)
		if ev.Type != watch.Added || !ok || e.Note != "Container image already present" || e.Regarding.Name != "web" || e.DeprecatedCount != 2 {
			t.Errorf("events.k8s.io watch got %s %#v", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no events.k8s.io watch event for a core Event")
	}

	_, err = s.client.EventsV1().Events("default").Create(ctx, &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "events-written"},
		EventTime:  metav1.NowMicro(), ReportingController: "kubeseed.io/test", ReportingInstance: "test-1",
		Action: "Testing", Reason: "Tested", Note: "written through events.k8s.io", Type: corev1.EventTypeWarning,
		Regarding: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web", APIVersion: "v1"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.client.CoreV1().Events("default").Get(ctx, "events-written", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Message != "written through events.k8s.io" || got.InvolvedObject.Name != "web" || got.ReportingController != "kubeseed.io/test" || got.Type != corev1.EventTypeWarning {
		t.Errorf("core view of an events.k8s.io Event: %#v", got)
	}
}
