// Package e2e holds kubeseed's end-to-end suites: they run the built binary
// (KUBESEED_BIN, from `make build`) and drive clusters with stock kubectl, as a
// user would. They are compiled only with the e2e build tag and run through
// `make test-e2e`, which `make test` calls when root, because the suites that
// run containers, network namespaces and eBPF need root.
package e2e
