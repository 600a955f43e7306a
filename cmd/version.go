package cmd

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kubeseed/kubeseed/version"
)

func newVersionCommand() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "version",
		Short: "Print the kubeseed version and the Kubernetes API version it serves",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			info := version.Get()
			switch output {
			case "":
				_, err := fmt.Fprint(c.OutOrStdout(), info.String())
				return err
			case "json":
				enc := json.NewEncoder(c.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			default:
				return fmt.Errorf("--output must be json or empty, not %q", output)
			}
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	return c
}
