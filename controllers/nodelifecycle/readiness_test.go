package nodelifecycle

import (
	"slices"
	"testing"
)

func TestReadinessReportsOnlyFlips(t *testing.T) {
	var r readiness
	steps := []struct {
		name        string
		ready, gone bool
		want        []string // sorted; nil: no flip
	}{
		{"a", false, false, []string{"a"}}, // the first event: none Ready
		{"b", false, false, nil},
		{"a", true, false, []string{"a", "b"}}, // some node Ready now
		{"b", true, false, nil},
		{"a", false, false, nil}, // b is still Ready
		{"b", false, false, []string{"a", "b"}},
		{"b", true, false, []string{"a", "b"}},
		{"b", false, true, []string{"a", "b"}}, // the Ready one deleted: none left
		{"b", false, true, nil},
	}
	for i, s := range steps {
		got := r.set(s.name, s.ready, s.gone)
		slices.Sort(got)
		if !slices.Equal(got, s.want) {
			t.Fatalf("step %d (%s ready=%v gone=%v): %v, want %v", i, s.name, s.ready, s.gone, got, s.want)
		}
	}
	if r.anyReady() {
		t.Error("anyReady with none Ready")
	}
	r.set("c", true, false)
	if !r.anyReady() {
		t.Error("anyReady false with c Ready")
	}
}
