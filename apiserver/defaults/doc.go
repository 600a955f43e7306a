// Package defaults fills in the fields a client left empty, with the values the
// upstream Kubernetes API server uses, for the k8s.io/api types kubeseed serves.
// Each function mutates its argument in place and is idempotent, because the API
// server applies defaults on every decode (requests and reads from storage).
package defaults
