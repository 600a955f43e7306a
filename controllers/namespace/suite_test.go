package namespace_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kubeseed/kubeseed/controllers/manager"
	"github.com/kubeseed/kubeseed/controllers/namespace"
	"github.com/kubeseed/kubeseed/test/testenv"
)

var k8sClient client.Client

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctrl.SetLogger(logr.Discard())
	env, err := testenv.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, "namespace suite:", err)
		return 1
	}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "namespace suite: starting envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	scheme, err := manager.Scheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "namespace suite: manager:", err)
		return 1
	}
	if err := namespace.SetupWithManager(mgr); err != nil {
		fmt.Fprintln(os.Stderr, "namespace suite: setup:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	if k8sClient, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// eventually retries check every 100ms until it returns nil or ctx ends.
func eventually(t *testing.T, ctx context.Context, what string, check func() error) {
	t.Helper()
	// The last failure that was not the deadline itself says what was wrong.
	var last error
	for {
		err := check()
		if err == nil {
			return
		}
		if last == nil || ctx.Err() == nil && !strings.Contains(err.Error(), "would exceed context deadline") {
			last = err
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v", what, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
