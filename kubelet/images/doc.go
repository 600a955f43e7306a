// Package images builds OCI image-layout tarballs from local files with the
// standard library only, imports such tarballs (and docker-archives) into
// containerd and lists what is there. No registry is reachable on a
// kubeseed node by default, so this is how images get onto it: a busybox
// image made from the host's static busybox binary, any tarball a user drops
// into the agent's images directory (as k3s's images directory and `kind
// load` do), and `kubeseed image import`. Package registry then serves them
// to the node's own pulls.
package images
