// Package apiserver serves the standard Kubernetes API groups from k8s.io/api
// types on k8s.io/apiserver, stored in etcd (embedded or external).
package apiserver
