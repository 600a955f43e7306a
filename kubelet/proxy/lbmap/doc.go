// Package lbmap is typed access to the service proxy's BPF maps (see package
// bpf): frontend slots, backends, and the per-socket and per-client state the
// programs keep. It knows the maps' binary layout and nothing of Kubernetes or
// of the service model; the proxy's syncer translates one into the other.
package lbmap
