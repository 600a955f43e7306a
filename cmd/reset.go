package cmd

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubeseed/kubeseed/cluster"
)

func newResetCommand() *cobra.Command {
	var cfg cluster.Config
	c := &cobra.Command{
		Use:   "reset",
		Short: "Remove a stopped cluster and everything it left on the host",
		Long: `Remove everything a stopped 'kubeseed up' left: the pods' containers and their
containerd, mounts under --data-dir, the pod bridge, the pods' cgroups, the
service proxy's BPF programs, pins and blackhole route, and the data dir
itself (every object in the cluster). Pass the same flags 'up' ran with.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := cluster.Reset(cfg); err != nil {
				return err
			}
			fmt.Fprintf(c.OutOrStdout(), "Removed the cluster in %s\n", cfg.DataDir)
			return nil
		},
	}
	addHostFlags(c.Flags(), &cfg)
	return c
}
