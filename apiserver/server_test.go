package apiserver_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeseed/kubeseed/apiserver"
	"github.com/kubeseed/kubeseed/test/testenv"
)

// running is an API server started by a test.
type running struct {
	server     *apiserver.Server
	config     *rest.Config
	client     kubernetes.Interface
	kubeconfig string
	stop       func() error
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// launch runs a server on dir until stop is called; stop waits for Run to
// return. It runs as envtest runs kube-apiserver, without the ServiceAccount
// admission plugin (no controller creates the default service accounts
// pods would need), so tests compare like with like; launchConfig runs any
// configuration.
func launch(dir string, port int) (*running, error) {
	return launchConfig(apiserver.Config{DataDir: dir, SecurePort: port, DisableAdmissionPlugins: testenv.EnvtestDisabledAdmissionPlugins})
}

func launchConfig(c apiserver.Config) (*running, error) {
	s, err := apiserver.New(c)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-s.Ready():
	case err := <-done:
		cancel()
		return nil, fmt.Errorf("server exited before ready: %w", err)
	case <-time.After(60 * time.Second):
		cancel()
		return nil, errors.New("server not ready after 60s")
	}
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(60 * time.Second):
				stopErr = errors.New("server did not stop within 60s")
			}
		})
		return stopErr
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", s.AdminKubeconfig())
	if err != nil {
		stop()
		return nil, err
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		stop()
		return nil, err
	}
	return &running{server: s, config: cfg, client: client, kubeconfig: s.AdminKubeconfig(), stop: stop}, nil
}

// start launches a server stopped at the end of the test.
func start(t *testing.T, dir string) *running {
	t.Helper()
	return startConfig(t, apiserver.Config{DataDir: dir, SecurePort: freePort(t), DisableAdmissionPlugins: testenv.EnvtestDisabledAdmissionPlugins})
}

// startConfig launches a server with configuration c, stopped at the end of
// the test.
func startConfig(t *testing.T, c apiserver.Config) *running {
	t.Helper()
	r, err := launchConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("stopping: %v", err)
		}
	})
	return r
}

// shared is one server for the tests that do not restart it, started on
// first use and stopped by TestMain.
var (
	shared    *running
	sharedDir string
)

func server(t *testing.T) *running {
	t.Helper()
	if shared == nil {
		dir, err := os.MkdirTemp("", "kubeseed-apiserver-test")
		if err != nil {
			t.Fatal(err)
		}
		sharedDir = dir
		if shared, err = launch(dir, freePort(t)); err != nil {
			t.Fatal(err)
		}
	}
	return shared
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		if err := shared.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping shared server:", err)
			code = 1
		}
	}
	if sharedDir != "" {
		os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	if _, err := apiserver.New(apiserver.Config{}); err == nil {
		t.Error("New without DataDir succeeded")
	}
	for _, bad := range []apiserver.Config{
		{DataDir: t.TempDir(), ServiceClusterIPRange: "10.96.0.0"},
		{DataDir: t.TempDir(), ServiceNodePortRange: "32767-30000"},
		{DataDir: t.TempDir(), BindAddress: "localhost"},
		{DataDir: t.TempDir(), DisableAdmissionPlugins: []string{"NoSuchPlugin"}},
		{DataDir: t.TempDir(), DisableAdmissionPlugins: []string{"NamespaceLifecycle"}},
	} {
		if _, err := apiserver.New(bad); err == nil {
			t.Errorf("New(%+v) succeeded", bad)
		}
	}
	if _, err := apiserver.New(apiserver.Config{DataDir: t.TempDir(), DisableAdmissionPlugins: []string{"ServiceAccount", "Priority"}}); err != nil {
		t.Errorf("disabling ServiceAccount and Priority: %v", err)
	}
	s, err := apiserver.New(apiserver.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.LoadFromFile(s.AdminKubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	if got := kc.Clusters[kc.Contexts[kc.CurrentContext].Cluster].Server; got != "https://127.0.0.1:"+strconv.Itoa(apiserver.DefaultSecurePort) {
		t.Errorf("kubeconfig server = %s", got)
	}
}
