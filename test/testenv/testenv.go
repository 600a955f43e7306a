// Package testenv starts the API server a suite runs against: the upstream
// control plane (kube-apiserver and etcd, built by `make envtest`) through
// controller-runtime's envtest, or kubeseed's own API server, chosen by
// $KUBESEED_TEST_APISERVER (New), so the same assertions run against the
// reference implementation and against ours.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kubeseed/kubeseed/version"
)

// AssetsDir returns the directory holding kube-apiserver, etcd and kubectl:
// $KUBEBUILDER_ASSETS when set (the Makefile sets it), else the directory
// `make envtest` builds into, found relative to this source file so plain
// `go test ./...` works from any package.
func AssetsDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the repository: set KUBEBUILDER_ASSETS")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	dir := filepath.Join(root, "bin", "k8s", version.Kubernetes[1:])
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return "", fmt.Errorf("%s not found in %s: run `make envtest` first", bin, dir)
		}
	}
	return dir, nil
}

// Upstream returns an envtest environment that runs upstream kube-apiserver
// and etcd from AssetsDir. Call Start on it and Stop when done.
func Upstream() (*envtest.Environment, error) {
	dir, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	return &envtest.Environment{
		BinaryAssetsDirectory: dir,
		ErrorIfCRDPathMissing: true,
	}, nil
}
