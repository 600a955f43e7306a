package cmd

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
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
		PersistentPreRun: func(*cobra.Command, []string) {
			// controller-runtime logs through its own logr sink; send it to
			// klog with everything else (else it drops its logs and warns).
			ctrl.SetLogger(klog.NewKlogr())
		},
	}
	// klog's flags (-v, --vmodule) on every command.
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	root.PersistentFlags().AddGoFlag(klogFlags.Lookup("v"))
	root.PersistentFlags().AddGoFlag(klogFlags.Lookup("vmodule"))
	root.AddCommand(
		newVersionCommand(),
		newUpCommand(),
		newResetCommand(),
		newAPIServerCommand(),
		newControllersCommand(),
		newKubeletCommand(),
		newImageCommand(),
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
