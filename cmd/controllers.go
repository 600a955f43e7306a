package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubeseed/kubeseed/controllers/manager"
)

func newControllersCommand() *cobra.Command {
	var (
		kubeconfig string
		cfg        manager.Config
	)
	c := &cobra.Command{
		Use:   "controllers",
		Short: "Run the workload controllers, scheduler and garbage collector against an API server",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			rc, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
				&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig, Precedence: clientcmd.NewDefaultClientConfigLoadingRules().Precedence},
				&clientcmd.ConfigOverrides{}).ClientConfig()
			if err != nil {
				return fmt.Errorf("loading kubeconfig: %w", err)
			}
			cfg.RestConfig = rc
			m, err := manager.New(cfg)
			if err != nil {
				return err
			}
			return m.Run(c.Context())
		},
	}
	f := c.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the API server (default: $KUBECONFIG or ~/.kube/config)")
	f.BoolVar(&cfg.LeaderElection, "leader-elect", false, "elect a leader through a Lease so only one copy acts")
	f.StringVar(&cfg.LeaderElectionNamespace, "leader-elect-namespace", "kube-system", "namespace of the leader election Lease")
	f.StringVar(&cfg.MetricsBindAddress, "metrics-bind-address", "0", "address of the metrics endpoint (0 turns it off)")
	f.StringVar(&cfg.HealthProbeBindAddress, "health-probe-bind-address", "0", "address of /healthz and /readyz (0 turns it off)")
	f.StringSliceVar(&cfg.Controllers, "controllers", nil, "controllers to run (default all): "+strings.Join(manager.Names(), ","))
	return c
}
