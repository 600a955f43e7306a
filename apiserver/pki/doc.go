// Package pki creates and reuses the API server's certificate authority and the
// certificates signed by it: the serving certificate, the admin client
// certificate (group system:masters) and the client certificate the API server
// presents to node agents. It also writes kubeconfig files that use them.
package pki
