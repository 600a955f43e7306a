// Package network gives each pod its own network namespace and connects it
// to the node's pod bridge through libcni: the containernetworking-plugins
// bridge (no masquerade, no default route, so nothing a pod sends leaves the
// machine) with host-local IPAM from the node's pod CIDR; the agent sets the
// namespace's lo up itself when it creates it.
// It also renders the per-pod /etc/hosts, /etc/hostname and /etc/resolv.conf
// that the agent bind-mounts into every container of the pod.
//
// The agent creates the namespace itself (a bind-mounted nsfs file) rather
// than keeping a pause container: the namespace then outlives every
// container restart without an extra process and image, and a restarted
// agent finds it again by path.
package network
