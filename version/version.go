// Package version holds the kubeseed release and the Kubernetes API version it
// serves. Release builds stamp Version and GitCommit with -ldflags -X (see the
// Makefile); the Kubernetes version is fixed by the k8s.io modules in go.mod.
package version

import (
	"fmt"
	"runtime"
)

// Kubernetes is the Kubernetes release whose API kubeseed serves and whose
// k8s.io/* libraries (v0.37.x) it is built from.
const Kubernetes = "v1.37.1"

// Version and GitCommit are overridden at build time by the Makefile.
var (
	Version   = "v0.1.0-dev"
	GitCommit = "unknown"
)

// Info describes one build of kubeseed.
type Info struct {
	Version    string `json:"version"`
	GitCommit  string `json:"gitCommit"`
	Kubernetes string `json:"kubernetes"`
	GoVersion  string `json:"goVersion"`
	Platform   string `json:"platform"`
}

// Get returns the version information of the running binary.
func Get() Info {
	return Info{
		Version:    Version,
		GitCommit:  GitCommit,
		Kubernetes: Kubernetes,
		GoVersion:  runtime.Version(),
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// String renders the information as `kubeseed version` prints it.
func (i Info) String() string {
	return fmt.Sprintf("kubeseed %s (commit %s, %s, %s)\nKubernetes API %s\n",
		i.Version, i.GitCommit, i.GoVersion, i.Platform, i.Kubernetes)
}
