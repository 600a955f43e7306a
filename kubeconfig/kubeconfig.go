// Package kubeconfig merges a cluster's admin kubeconfig into the user's own
// kubeconfig under one context name, as kind and k3d do, so that stock
// kubectl reaches the cluster with no flags.
package kubeconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// DefaultPath is where kubectl looks: the first entry of $KUBECONFIG, else
// ~/.kube/config.
func DefaultPath() string {
	if env := os.Getenv("KUBECONFIG"); env != "" {
		return filepath.SplitList(env)[0]
	}
	return clientcmd.RecommendedHomeFile
}

// Merge copies the current context of the kubeconfig at src into the
// kubeconfig at dst as cluster, user and context named name, makes it the
// current context, and keeps everything else in dst. dst is created if it
// does not exist.
func Merge(src, dst, name string) error {
	in, err := clientcmd.LoadFromFile(src)
	if err != nil {
		return fmt.Errorf("reading %s: %w", src, err)
	}
	ctx, ok := in.Contexts[in.CurrentContext]
	if !ok {
		return fmt.Errorf("%s has no current context", src)
	}
	cluster, ok := in.Clusters[ctx.Cluster]
	if !ok {
		return fmt.Errorf("%s: context %q names a missing cluster %q", src, in.CurrentContext, ctx.Cluster)
	}
	user, ok := in.AuthInfos[ctx.AuthInfo]
	if !ok {
		return fmt.Errorf("%s: context %q names a missing user %q", src, in.CurrentContext, ctx.AuthInfo)
	}

	out, err := clientcmd.LoadFromFile(dst)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		out = clientcmdapi.NewConfig()
	case err != nil:
		return fmt.Errorf("reading %s: %w", dst, err)
	}
	out.Clusters[name] = cluster.DeepCopy()
	out.AuthInfos[name] = user.DeepCopy()
	merged := ctx.DeepCopy()
	merged.Cluster, merged.AuthInfo = name, name
	out.Contexts[name] = merged
	out.CurrentContext = name

	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if err := clientcmd.WriteToFile(*out, dst); err != nil {
		return fmt.Errorf("writing %s: %w", dst, err)
	}
	return nil
}
