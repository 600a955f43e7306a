// Package credentials turns a pod's image pull secrets into the registry
// credentials to pull an image with, as upstream's kubelet keyring does.
//
// A Secret of type kubernetes.io/dockerconfigjson (key .dockerconfigjson,
// {"auths": {registry: entry}}) or kubernetes.io/dockercfg (key .dockercfg,
// the map alone) holds an entry per registry, with a username and password
// or an auth field (base64 of "user:password", which wins). A Keyring keys
// the entries by registry host and optional path (a scheme and a /v1/ or
// /v2/ prefix are dropped; the host may hold globs such as *.example.com)
// and Lookup returns, for an image, the credentials of every matching key,
// the most specific key first and, for one key, in the order the secrets
// were added; index.docker.io entries serve docker.io images no other key
// matched. The caller tries them in that order until a pull succeeds.
package credentials
