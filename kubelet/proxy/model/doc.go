// Package model is the service proxy's view of Services: frontends (a virtual
// IP, port and protocol) and the backends traffic to each frontend may reach.
//
// The model says nothing about how the datapath stores it (that is lbmap's
// business); FromKubernetes is the one place that reads Kubernetes objects, and
// it applies upstream kube-proxy's choices: only ready endpoints, serving
// terminating endpoints as a fallback when none is ready, named target ports
// resolved per EndpointSlice, internalTrafficPolicy Local, ClientIP affinity.
package model
