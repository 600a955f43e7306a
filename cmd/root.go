package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// NewRootCommand builds the kubeseed command tree.
func NewRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "kubeseed",
		Short: "A lightweight Kubernetes in one binary",
		Long: `kubeseed runs a Kubernetes cluster from one binary: an API server with etcd,
the workload controllers and scheduler, and a node agent that runs pods on
containerd. Stock kubectl talks to it.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCommand(),
		newPendingCommand("up", "Run a whole cluster in this process (etcd, API server, controllers, node agent)", 8),
		newAPIServerCommand(),
		newControllersCommand(),
		newKubeletCommand(),
	)
	return root
}

// Execute runs the command line and returns the process exit code.
func Execute() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := NewRootCommand().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "kubeseed:", err)
		return 1
	}
	return 0
}

// errNotImplemented marks a role whose component has not landed yet.
var errNotImplemented = errors.New("not implemented yet")

// newPendingCommand reserves a subcommand name for a component that a later
// change fills in, so the command tree and its help are stable from day one.
func newPendingCommand(name, short string, issue int) *cobra.Command {
	return &cobra.Command{
		Use:   name,
		Short: short + " (not implemented yet)",
		RunE: func(*cobra.Command, []string) error {
			return fmt.Errorf("%s: %w (tracked in issue %d)", name, errNotImplemented, issue)
		},
	}
}
