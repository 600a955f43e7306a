package revision

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func rev(name string, n int64, data string) *appsv1.ControllerRevision {
	return &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Revision: n, Data: runtime.RawExtension{Raw: []byte(data)}}
}

func TestHashAndName(t *testing.T) {
	h := Hash([]byte(`{"spec":{}}`), nil)
	if h != Hash([]byte(`{"spec":{}}`), nil) || h == Hash([]byte(`{"spec":{}}`), ptr.To[int32](1)) || h == Hash([]byte(`{"spec":1}`), nil) {
		t.Error("hash must be deterministic and depend on data and collision count")
	}
	if strings.Trim(h, "bcdfghjklmnpqrstvwxz2456789") != "" {
		t.Errorf("hash %q outside the safe alphabet", h)
	}
	if got := Name(strings.Repeat("a", 300), "x"); len(got) != 225 {
		t.Errorf("long parent name gives %d chars", len(got))
	}
	owner := &metav1.ObjectMeta{Name: "web", Namespace: "ns"}
	cr := New(owner, metav1.OwnerReference{Name: "web"}, map[string]string{"app": "web"}, []byte("{}"), 3, nil)
	if cr.Name != "web-"+Hash([]byte("{}"), nil) || cr.Labels[HashLabel] != Hash([]byte("{}"), nil) || cr.Labels["app"] != "web" || cr.Revision != 3 {
		t.Errorf("New = %+v", cr.ObjectMeta)
	}
}

func TestOrderAndHistory(t *testing.T) {
	revs := []*appsv1.ControllerRevision{rev("c", 3, "c"), rev("a", 1, "a"), rev("b", 2, "b")}
	Sort(revs)
	if revs[0].Name != "a" || revs[2].Name != "c" || Next(revs) != 4 || Next(nil) != 1 {
		t.Errorf("sort/next wrong: %s %s %d", revs[0].Name, revs[2].Name, Next(revs))
	}
	if eq := FindEqual(revs, rev("x", 9, "b")); len(eq) != 1 || eq[0].Name != "b" {
		t.Errorf("FindEqual = %v", eq)
	}
	del := ToDelete(revs, map[string]bool{"c": true}, 1)
	if len(del) != 1 || del[0].Name != "a" {
		t.Errorf("ToDelete = %v", del)
	}
	if ToDelete(revs, map[string]bool{}, 3) != nil {
		t.Error("nothing beyond the limit")
	}
}
