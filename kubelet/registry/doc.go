// Package registry is the node's read-only registry mirror: an OCI
// distribution (/v2/) server on loopback that serves the images of the
// node's containerd store (everything `kubeseed image import` or the images
// directory loaded) by their original names, and the containerd registry
// host configuration (hosts.toml) that sends pulls of docker.io and
// registry.k8s.io to it first.
//
// Images pulled with credentials (LabelPulledWithCredentials) are not
// served: the node hands out what was imported and what registries give
// anyone, never what a registry gave only to a pod's imagePullSecrets.
//
// It exists so that imagePullPolicy Always, which upstream's API defaults
// `image: busybox` to, keeps its meaning on a node with no reachable
// registry: every start re-resolves the tag, and the answer comes from the
// node itself, as with k3s's embedded mirror. Pulls from the mirror carry
// containerd's ?ns=<registry> query, which names the registry the image was
// asked for (library/busybox with ns=docker.io is
// docker.io/library/busybox); without it names resolve as in Docker
// (docker.io by default).
//
// The mirror never writes: manifests, indexes and blobs are read from the
// content store and the image store only. It serves GET and HEAD on /v2/,
// manifests by tag or digest (with content negotiation between the OCI and
// Docker media types), blobs (with ranges) and tags lists, and answers with
// the distribution error codes (NAME_UNKNOWN, MANIFEST_UNKNOWN,
// BLOB_UNKNOWN, ...) that containerd and other clients understand.
package registry
