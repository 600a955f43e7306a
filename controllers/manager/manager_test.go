package manager

import (
	"testing"

	"k8s.io/client-go/rest"
)

// Two managers with every controller can be built in one process (tests and
// `kubeseed up` embed them), and the registry names are unique.
func TestNewTwiceInOneProcess(t *testing.T) {
	cfg := Config{RestConfig: &rest.Config{Host: "https://127.0.0.1:1"}}
	for i := 0; i < 2; i++ {
		if _, err := New(cfg); err != nil {
			t.Fatalf("manager %d: %v", i, err)
		}
	}
	seen := map[string]bool{}
	for _, n := range Names() {
		if seen[n] {
			t.Errorf("controller %q registered twice", n)
		}
		seen[n] = true
	}
	for _, want := range []string{"replicaset", "deployment", "statefulset", "daemonset", "job", "cronjob", "ttlafterfinished", "garbagecollector"} {
		if !seen[want] {
			t.Errorf("registry lacks %q: %v", want, Names())
		}
	}
}
