// Package cmd is kubeseed's composition root: one cobra command per role
// (up, apiserver, controllers, kubelet, version). Commands parse flags and wire
// the components together; the components themselves live in apiserver/,
// controllers/ and kubelet/, which never import each other.
package cmd
