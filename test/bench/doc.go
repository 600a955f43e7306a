// Package bench holds benchmarks that compare kubeseed's components with
// upstream's in one run (upstream binaries from hack/setup-envtest.sh), each
// reported as a ratio. `make bench` runs them.
package bench
