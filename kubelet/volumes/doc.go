// Package volumes materializes a pod's volumes on the node under
// <root>/pods/<uid>/volumes/<name>, for the runtime to bind-mount into
// containers: emptyDir (a directory, or tmpfs for medium Memory), hostPath,
// and the projected kinds configMap, secret, downwardAPI and projected
// (including serviceAccountToken through the TokenRequest API).
//
// Projected contents are written as upstream's atomic writer does: the
// files live in a timestamped directory that a "..data" symlink points at,
// and each key is a symlink through "..data"; an update writes a new
// directory and swaps the symlink, so a container never sees half an
// update, and configMap and secret volumes change in place while pods run.
package volumes
