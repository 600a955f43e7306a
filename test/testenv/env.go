package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kubeseed/kubeseed/apiserver"
)

// APIServerEnv names the API server suites run against: "upstream" (the
// default: kube-apiserver from `make envtest`) or "kubeseed" (kubeseed's own,
// in the test process). `make test` runs the controller suites against both;
// a test that passes on one and fails on the other has found a bug in ours.
const APIServerEnv = "KUBESEED_TEST_APISERVER"

// EnvtestDisabledAdmissionPlugins are the admission plugins envtest turns off
// in kube-apiserver (its --disable-admission-plugins default).
var EnvtestDisabledAdmissionPlugins = []string{"ServiceAccount"}

// Env is the API server of a suite.
type Env struct {
	// Name is "upstream" or "kubeseed".
	Name string

	upstream   *envtest.Environment
	kubeconfig string
	stop       func() error
}

// New returns the API server $KUBESEED_TEST_APISERVER names, not yet started.
func New() (*Env, error) {
	return NewNamed(os.Getenv(APIServerEnv))
}

// NewNamed returns the API server name names ("upstream", "" being the
// same, or "kubeseed"), not yet started: for a benchmark whose default is
// kubeseed's own server whatever the suites run against.
func NewNamed(name string) (*Env, error) {
	switch name {
	case "", "upstream":
		env, err := Upstream()
		if err != nil {
			return nil, err
		}
		return &Env{Name: "upstream", upstream: env}, nil
	case "kubeseed":
		return &Env{Name: "kubeseed"}, nil
	default:
		return nil, fmt.Errorf("%s=%q: want upstream or kubeseed", APIServerEnv, name)
	}
}

// Start starts the API server and returns a cluster-admin client config.
func (e *Env) Start() (*rest.Config, error) {
	if e.upstream != nil {
		return e.upstream.Start()
	}
	return e.startKubeseed()
}

// Stop stops the API server and removes what it stored.
func (e *Env) Stop() error {
	var err error
	if e.upstream != nil {
		err = e.upstream.Stop()
	} else if e.stop != nil {
		err = e.stop()
	}
	if e.kubeconfig != "" && e.upstream != nil {
		_ = os.Remove(e.kubeconfig)
	}
	return err
}

// AdminKubeconfig returns a kubeconfig file for stock kubectl as cluster
// admin (group system:masters). Call it after Start.
func (e *Env) AdminKubeconfig() (string, error) {
	if e.kubeconfig != "" {
		return e.kubeconfig, nil
	}
	if e.upstream == nil {
		return "", errors.New("testenv: not started")
	}
	user, err := e.upstream.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	f, err := os.CreateTemp("", "kubeconfig-*")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Write(kc); err != nil {
		return "", err
	}
	e.kubeconfig = f.Name()
	return e.kubeconfig, nil
}

// startKubeseed runs kubeseed's API server (embedded etcd) on a free port
// with a temporary data dir.
func (e *Env) startKubeseed() (*rest.Config, error) {
	dir, err := os.MkdirTemp("", "kubeseed-testenv-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	// As upstream's envtest runs its etcd: a test cluster needs no fsync,
	// and comparing the two API servers with only one fsyncing would
	// measure the disk. And as envtest runs kube-apiserver: without the
	// ServiceAccount admission plugin, since no controller creates the
	// namespaces' default service accounts that it requires of pods.
	s, err := apiserver.New(apiserver.Config{DataDir: dir, SecurePort: port, EtcdUnsafeNoFsync: true,
		DisableAdmissionPlugins: EnvtestDisabledAdmissionPlugins})
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	var stopErr error
	e.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(60 * time.Second):
				stopErr = errors.New("testenv: kubeseed API server did not stop within 60s")
			}
			os.RemoveAll(dir)
		})
		return stopErr
	}
	select {
	case <-s.Ready():
	case err := <-done:
		_ = e.stop()
		return nil, fmt.Errorf("testenv: kubeseed API server exited before ready: %w", err)
	case <-time.After(60 * time.Second):
		_ = e.stop()
		return nil, errors.New("testenv: kubeseed API server not ready after 60s")
	}
	e.kubeconfig = s.AdminKubeconfig()
	cfg, err := clientcmd.BuildConfigFromFlags("", e.kubeconfig)
	if err != nil {
		_ = e.stop()
		return nil, err
	}
	// envtest gives its clients the same limits: with client-go's default
	// of 5 requests/s a suite would measure the client's rate limiter.
	cfg.QPS, cfg.Burst = 1000, 2000
	return cfg, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
