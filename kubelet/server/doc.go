// Package server is the agent's HTTPS endpoint on the node's kubelet port
// (10250 by default), which the API server calls for `kubectl logs`:
// GET /containerLogs/{namespace}/{pod}/{container} with upstream's query
// parameters (follow, tailLines, limitBytes, previous, timestamps,
// sinceSeconds, sinceTime, stream), read from the container's CRI-format
// log by package logs; and for `kubectl exec`, `kubectl attach` and
// `kubectl port-forward`: /exec/..., /attach/... and /portForward/... with
// the SPDY and WebSocket stream protocols of k8s.io/cri-streaming. Only
// clients with a certificate signed by the configured client CA (the API
// server's kubelet client certificate) are served, as with upstream's x509
// authentication.
package server
