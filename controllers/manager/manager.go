// Package manager runs every kubeseed controller in one controller-runtime
// manager. It is what `kubeseed controllers` and `kubeseed up` start, and what
// test suites embed to get upstream-like controllers against any API server.
package manager

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// Config says where the controllers find the API and how they run.
type Config struct {
	// RestConfig reaches the API server (kubeseed's or any other).
	RestConfig *rest.Config
	// LeaderElection makes only one of several running copies act, through a
	// Lease in LeaderElectionNamespace.
	LeaderElection          bool
	LeaderElectionNamespace string
	// MetricsBindAddress and HealthProbeBindAddress are listen addresses;
	// "0" or "" turns the endpoint off (the default, so tests can start many).
	MetricsBindAddress     string
	HealthProbeBindAddress string
	// Controllers names the controllers to run; empty means all of them.
	Controllers []string
}

// Manager is a started-on-Run set of controllers.
type Manager struct {
	mgr ctrl.Manager
}

// Scheme holds the types the controllers read and write.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// New builds the manager and registers the selected controllers.
func New(cfg Config) (*Manager, error) {
	if cfg.RestConfig == nil {
		return nil, fmt.Errorf("controllers: no API server configuration")
	}
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	metricsAddr := cfg.MetricsBindAddress
	if metricsAddr == "" {
		metricsAddr = "0"
	}
	ns := cfg.LeaderElectionNamespace
	if ns == "" {
		ns = "kube-system"
	}
	restConfig := rest.CopyConfig(cfg.RestConfig)
	if restConfig.QPS == 0 && restConfig.RateLimiter == nil {
		// client-go would throttle to 5 requests/s; rely on the API server's
		// priority and fairness instead, as controller-runtime's GetConfig does.
		restConfig.QPS = -1
	}
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:  cfg.HealthProbeBindAddress,
		LeaderElection:          cfg.LeaderElection,
		LeaderElectionID:        "kubeseed-controllers",
		LeaderElectionNamespace: ns,
		// Controller names are unique per manager, not per process, so that
		// tests and `kubeseed up` may run several managers side by side.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		// No controller reads managedFields, and updates sent without them
		// keep the server's: the cache (every pod, and the metadata of every
		// object for the garbage collector) need not hold a copy.
		Cache: cache.Options{DefaultTransform: cache.TransformStripManagedFields()},
	})
	if err != nil {
		return nil, fmt.Errorf("creating controller manager: %w", err)
	}
	if cfg.HealthProbeBindAddress != "" && cfg.HealthProbeBindAddress != "0" {
		if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
			return nil, err
		}
		if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
			return nil, err
		}
	}
	enabled := map[string]bool{}
	for _, name := range cfg.Controllers {
		enabled[name] = true
	}
	for _, c := range registry {
		if len(enabled) > 0 && !enabled[c.name] {
			continue
		}
		if err := c.setup(mgr); err != nil {
			return nil, fmt.Errorf("setting up the %s controller: %w", c.name, err)
		}
	}
	return &Manager{mgr: mgr}, nil
}

// Run starts the controllers and blocks until ctx ends.
func (m *Manager) Run(ctx context.Context) error {
	return m.mgr.Start(ctx)
}

// Names lists every controller New can run, in registration order.
func Names() []string {
	names := make([]string, 0, len(registry))
	for _, c := range registry {
		names = append(names, c.name)
	}
	return names
}
