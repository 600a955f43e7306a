package consistency

import (
	"errors"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

type fakeStore struct{ rv string }

func (s *fakeStore) LastStoreSyncResourceVersion() string { return s.rv }

func pod(rv string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", ResourceVersion: rv}}
}

func job(rv string) *batchv1.Job {
	return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "j", ResourceVersion: rv}}
}

func TestTrackerWaitsForEveryCache(t *testing.T) {
	pods, jobs := &fakeStore{rv: "100"}, &fakeStore{rv: "100"}
	tr := New(func(obj client.Object) Store {
		if _, ok := obj.(*corev1.Pod); ok {
			return pods
		}
		return jobs
	})
	key := types.NamespacedName{Namespace: "ns", Name: "j"}
	if err := tr.Ready(key); err != nil {
		t.Fatalf("an owner without writes: %v", err)
	}
	// The finished pod is recorded in the Job's status (rv 120), then its
	// finalizer is removed (rv 130).
	tr.Wrote(key, "uid-1", job("120"))
	tr.Wrote(key, "uid-1", pod("130"))
	tr.Wrote(key, "uid-1", pod("110")) // an older write does not lower the mark
	var stale *StaleError
	if err := tr.Ready(key); !errors.As(err, &stale) {
		t.Fatalf("both caches behind: %v, want a StaleError", err)
	}
	// The pod cache saw the finalizer go, the Job cache not yet its status:
	// the race this package exists for.
	pods.rv = "130"
	if err := tr.Ready(key); !errors.As(err, &stale) || stale.Type != "Job" || stale.Wrote != "120" || stale.Applied != "100" {
		t.Fatalf("job cache behind: %v, want a StaleError for Job at 120 (applied 100)", err)
	}
	jobs.rv = "125"
	if err := tr.Ready(key); err != nil {
		t.Fatalf("both caches caught up: %v", err)
	}
	// Once ready the writes are forgotten: an older cache no longer blocks.
	jobs.rv = "100"
	if err := tr.Ready(key); err != nil {
		t.Fatalf("after a ready sync: %v", err)
	}
	if err := tr.Ready(types.NamespacedName{Namespace: "ns", Name: "other"}); err != nil {
		t.Fatalf("another owner: %v", err)
	}
}

func TestTrackerNewOwnerAndForget(t *testing.T) {
	pods := &fakeStore{rv: "10"}
	tr := New(func(client.Object) Store { return pods })
	key := types.NamespacedName{Namespace: "ns", Name: "j"}
	tr.Wrote(key, "old-uid", pod("50"))
	// A Job recreated under the same name does not wait for the old one's
	// writes.
	tr.Wrote(key, "new-uid", pod("20"))
	pods.rv = "20"
	if err := tr.Ready(key); err != nil {
		t.Fatalf("new owner: %v", err)
	}
	tr.Wrote(key, "new-uid", pod("30"))
	tr.Forget(key)
	if err := tr.Ready(key); err != nil {
		t.Fatalf("after Forget: %v", err)
	}
}

func TestTrackerNeverBlocksOnWhatItCannotCompare(t *testing.T) {
	cases := map[string]struct {
		store   Store
		written string
	}{
		"no store for the type":          {nil, "50"},
		"store without a version yet":    {&fakeStore{rv: ""}, "50"},
		"versions that are not integers": {&fakeStore{rv: "abc"}, "50"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tr := New(func(client.Object) Store { return tc.store })
			key := types.NamespacedName{Name: "j"}
			tr.Wrote(key, "u", pod(tc.written))
			if err := tr.Ready(key); err != nil {
				t.Errorf("Ready = %v, want nil", err)
			}
		})
	}
	tr := New(func(client.Object) Store { return &fakeStore{rv: "1"} })
	tr.Wrote(types.NamespacedName{Name: "j"}, "u", pod(""))
	if err := tr.Ready(types.NamespacedName{Name: "j"}); err != nil {
		t.Errorf("a write without a resource version: %v", err)
	}
}
