package cmd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/kubeseed/kubeseed/cluster"
	"github.com/kubeseed/kubeseed/kubelet/images"
	kcontainerd "github.com/kubeseed/kubeseed/kubelet/runtime/containerd"
)

// imageOptions say which node's containerd the image commands talk to.
type imageOptions struct {
	dataDir, address string
}

func newImageCommand() *cobra.Command {
	o := &imageOptions{}
	c := &cobra.Command{
		Use:   "image",
		Short: "Import and list the images of a running node",
		Long: `Import image tarballs into a running node and list its images. The node's
registry mirror serves every image listed here, so pods naming them pull
them (imagePullPolicy Always included) without a registry.

The commands talk to the containerd of the node agent that --data-dir
belongs to (as 'kubeseed up' ran with), or to --address.`,
	}
	c.PersistentFlags().StringVar(&o.dataDir, "data-dir", cluster.DefaultDataDir, "data dir of the cluster ('kubeseed up --data-dir')")
	c.PersistentFlags().StringVar(&o.address, "address", "", "containerd socket of the node (default: the one of --data-dir's node agent)")
	c.AddCommand(&cobra.Command{
		Use:   "import FILE.tar...",
		Short: "Import OCI image-layout or docker-archive tarballs into the node",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			client, err := o.connect()
			if err != nil {
				return err
			}
			defer client.Close()
			for _, path := range args {
				ctx, cancel := context.WithTimeout(c.Context(), 10*time.Minute)
				names, err := images.ImportFile(ctx, client, path, kcontainerd.Snapshotter)
				cancel()
				if err != nil {
					return err
				}
				for _, n := range names {
					fmt.Fprintf(c.OutOrStdout(), "Imported %s\n", n)
				}
			}
			return nil
		},
	})
	c.AddCommand(&cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the node's images",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			client, err := o.connect()
			if err != nil {
				return err
			}
			defer client.Close()
			ctx, cancel := context.WithTimeout(c.Context(), time.Minute)
			defer cancel()
			list, err := images.List(ctx, client)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(c.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprintln(w, "REPOSITORY\tTAG\tDIGEST\tSIZE")
			for _, img := range list {
				tag := img.Tag
				if tag == "" {
					tag = "<none>"
				}
				dgst := strings.TrimPrefix(img.Digest, "sha256:")
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", img.Repository, tag, dgst[:min(12, len(dgst))], humanize.Bytes(uint64(img.Size)))
			}
			return w.Flush()
		},
	})
	return c
}

// connect reaches the node's containerd, saying what to do when none
// answers (the agent stops its containerd when it stops).
func (o *imageOptions) connect() (*containerd.Client, error) {
	address := o.address
	if address == "" {
		address = kcontainerd.SocketPath(filepath.Join(o.dataDir, "kubelet"))
	}
	fail := func(err error) error {
		return fmt.Errorf("no node containerd answers at %s (is 'kubeseed up --data-dir %s' running? A stopped node imports the tarballs of %s at start): %w",
			address, o.dataDir, filepath.Join(o.dataDir, "kubelet", "images"), err)
	}
	if _, err := os.Stat(address); err != nil {
		return nil, fail(err)
	}
	client, err := containerd.New(address, containerd.WithDefaultNamespace(kcontainerd.Namespace), containerd.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fail(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := client.Version(ctx); err != nil {
		client.Close()
		return nil, fail(err)
	}
	return client, nil
}
