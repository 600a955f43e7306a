package manager

import (
	"testing"

	"github.com/kubeseed/kubeseed/test/testenv"
)

// Two managers with every controller can be built in one process (tests and
// `kubeseed up` embed them), and the registry names are unique.
func TestNewTwiceInOneProcess(t *testing.T) {
	// Some controllers index fields at set-up, which needs discovery from a
	// live API server.
	env, err := testenv.New()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	cfg := Config{RestConfig: rc}
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
