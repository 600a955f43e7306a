package namespace

import (
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

func TestConditions(t *testing.T) {
	pods := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	deploys := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	tests := []struct {
		name string
		o    Outcome
		done bool
		want map[corev1.NamespaceConditionType][3]string // status, reason, message
	}{
		{"all gone", Outcome{}, true, map[corev1.NamespaceConditionType][3]string{
			corev1.NamespaceDeletionDiscoveryFailure: {"False", "ResourcesDiscovered", "All resources successfully discovered"},
			corev1.NamespaceDeletionGVParsingFailure: {"False", "ParsedGroupVersions", "All legacy kube types successfully parsed"},
			corev1.NamespaceDeletionContentFailure:   {"False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
			corev1.NamespaceContentRemaining:         {"False", "ContentRemoved", "All content successfully removed"},
			corev1.NamespaceFinalizersRemaining:      {"False", "ContentHasNoFinalizers", "All content-preserving finalizers finished"},
		}},
		{"content and finalizers remain", Outcome{
			Remaining:  map[schema.GroupVersionResource]int{pods: 2, deploys: 1},
			Finalizers: map[string]int{"example.com/hold": 1},
		}, false, map[corev1.NamespaceConditionType][3]string{
			corev1.NamespaceContentRemaining:    {"True", "SomeResourcesRemain", "Some resources are remaining: deployments.apps has 1 resource instances, pods. has 2 resource instances"},
			corev1.NamespaceFinalizersRemaining: {"True", "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"},
		}},
		{"discovery failed for a group", Outcome{DiscoveryErr: &discovery.ErrGroupDiscoveryFailed{
			Groups: map[schema.GroupVersion]error{{Group: "metrics.k8s.io", Version: "v1beta1"}: errors.New("the server is currently unable to handle the request")},
		}}, false, map[corev1.NamespaceConditionType][3]string{
			corev1.NamespaceDeletionDiscoveryFailure: {"True", "DiscoveryFailed", "Discovery failed for some groups, 1 failing: unable to retrieve the complete list of server APIs: metrics.k8s.io/v1beta1: the server is currently unable to handle the request"},
		}},
		{"delete failed", Outcome{DeleteErrs: []error{errors.New("failed to delete widgets: boom")}}, false, map[corev1.NamespaceConditionType][3]string{
			corev1.NamespaceDeletionContentFailure: {"True", "ContentDeletionFailed", "Failed to delete all resource types, 1 remaining: failed to delete widgets: boom"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.o.Done(); got != tt.done {
				t.Errorf("Done = %v, want %v", got, tt.done)
			}
			conds := Conditions(tt.o)
			if len(conds) != 5 {
				t.Fatalf("%d conditions, want 5", len(conds))
			}
			for _, c := range conds {
				want, ok := tt.want[c.Type]
				if !ok {
					if c.Status != corev1.ConditionFalse {
						t.Errorf("%s = %s (%s), want False", c.Type, c.Status, c.Message)
					}
					continue
				}
				if got := [3]string{string(c.Status), c.Reason, c.Message}; got != want {
					t.Errorf("%s:\n got %q\nwant %q", c.Type, got, want)
				}
			}
		})
	}
}

func TestMergeConditionsKeepsTransitionTimes(t *testing.T) {
	then := metav1.Unix(1000, 0)
	now := metav1.Unix(2000, 0)
	var status corev1.NamespaceStatus
	if !MergeConditions(&status, Conditions(Outcome{}), then) {
		t.Fatal("first merge reported no change")
	}
	if MergeConditions(&status, Conditions(Outcome{}), now) {
		t.Error("merging the same conditions reported a change")
	}
	changed := MergeConditions(&status, Conditions(Outcome{Remaining: map[schema.GroupVersionResource]int{{Version: "v1", Resource: "pods"}: 1}}), now)
	if !changed {
		t.Fatal("a new remaining count reported no change")
	}
	for _, c := range status.Conditions {
		want := then
		if c.Type == corev1.NamespaceContentRemaining {
			want = now
		}
		if !c.LastTransitionTime.Equal(&want) {
			t.Errorf("%s transitioned at %v, want %v", c.Type, c.LastTransitionTime, want)
		}
	}
}

func TestDeletableResources(t *testing.T) {
	lists := []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Namespaced: true, Verbs: []string{"create", "delete", "deletecollection", "get", "list"}},
			{Name: "pods/status", Namespaced: true, Verbs: []string{"get", "update"}},
			{Name: "bindings", Namespaced: true, Verbs: []string{"create"}},
			{Name: "nodes", Namespaced: false, Verbs: []string{"delete", "list"}},
		}},
		{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{
			{Name: "widgets", Namespaced: true, Verbs: []string{"delete", "list"}},
		}},
	}
	got := DeletableResources(lists)
	want := []resource{
		{gvr: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, deleteCollection: true},
		{gvr: schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("DeletableResources = %+v, want %+v", got, want)
	}
}
