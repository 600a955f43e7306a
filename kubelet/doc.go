// Package kubelet is kubeseed's node agent: it runs the pods bound to its node
// as containers on containerd and reports their status through the API.
package kubelet
