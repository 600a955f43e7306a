// Package etcd runs an embedded single-member etcd server whose data lives in a
// directory of the API server's data dir, listening only on loopback. It is the
// default storage when no external etcd cluster is configured.
package etcd
