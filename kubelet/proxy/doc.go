// Package proxy is kubeseed's service proxy: it routes connections to a
// Service's cluster IP to the Service's ready endpoints without iptables, with
// cgroup socket programs (package bpf) that rewrite the destination when a
// socket connects or sends. It watches Services and EndpointSlices, turns them
// into the service model (package model) and writes that into the BPF maps
// (package lbmap).
//
// Programs, links and maps are pinned under Config.PinPath so routing survives
// a restart of the node agent; a new Proxy on the same pin directory adopts and
// reconciles them. When Run returns they stay pinned unless
// Config.CleanupOnExit is set; Cleanup removes them and the service CIDR route.
//
// NodePort Services answer at the node's addresses and, for processes of the
// node's own network namespace, at 127.0.0.1, through the same programs;
// connections and datagrams from other machines reach a listener that relays
// them to a backend (see nodeport.go for why not tc).
//
// A connection to a frontend without backends fails at once with ECONNREFUSED
// (the program rejects connect or sendmsg and sets that error), as a client of
// kube-proxy's REJECT rule sees; so does one to a service CIDR address and port
// that is no frontend. The blackhole route for the service CIDR, installed
// before anything else, keeps VIP traffic on the node whenever the programs
// are not attached.
package proxy
