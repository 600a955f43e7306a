// Package allocator hands out service cluster IPs and node ports from their
// ranges. Each allocation is a key in etcd created only if absent, so two
// creates (or two API servers sharing one etcd) never get the same value, and
// allocations survive restarts. Picking a candidate is a pure function over the
// range and the values in use.
package allocator
