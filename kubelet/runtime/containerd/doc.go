// Package containerd is the real runtime: it runs pod containers on
// containerd through its Go client (runc, overlayfs) in the "kubeseed"
// namespace, joins them to the pod's network namespace from package
// network, and starts a containerd daemon of its own when none is given.
//
// Images are pulled with containerd's resolver from the registry host
// configuration under HostsDir (hosts.toml, as containerd's CRI reads it),
// which the agent points at its registry mirror; with RegistryFallback off
// only loopback registries are contacted.
//
// The agent reads every container's stdout and stderr from FIFOs and writes
// its log in the CRI log format (package logs), as containerd's CRI plugin
// does; an agent that restarts takes the FIFOs of running containers back
// (see output).
//
// Every containerd container carries labels naming its pod (UID, namespace,
// name), its container name and its attempt, and its exit is recorded in
// labels too; so an agent that restarts reads the whole state back from
// containerd and leaves running containers alone.
package containerd
