// Package images builds OCI image-layout tarballs from local files with the
// standard library only, and imports such tarballs into containerd. No
// registry is reachable on a kubeseed node by default, so this is how images
// get onto it: a busybox image made from the host's static busybox binary,
// and any tarball a user drops into the agent's images directory (as k3s's
// images directory and `kind load` do).
package images
