// Package node registers the agent's Node object with capacity, addresses
// and system info read from the machine, keeps its conditions current, and
// renews the node's Lease in kube-node-lease, which is the heartbeat the node
// lifecycle controller watches.
package node
