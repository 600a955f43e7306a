// Package localpath is kubeseed's default storage: the StorageClass
// "local-path" (marked default, WaitForFirstConsumer, reclaim Delete, as k3s
// and kind ship one) and its provisioner. When the scheduler has chosen a node
// for a pod using a claim of that class (the claim's
// volume.kubernetes.io/selected-node annotation), the provisioner creates a
// hostPath PersistentVolume under the node's storage directory, pinned to
// that node by node affinity and pre-bound to the claim; the persistentvolume
// controller completes the binding and the node agent creates the directory
// when it mounts it (hostPath type DirectoryOrCreate).
package localpath
