// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
// Socket load balancing for Services: cgroup sock_addr programs rewrite a
// Service's virtual IP and port to a backend when a socket connects or sends,
// and rewrite the backend back to the virtual IP when it receives or asks for
// its peer, so applications only ever see the Service address.

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define SYS_REJECT 0
#define SYS_PROCEED 1

// ECONNREFUSED, as a client of a closed port sees it.
#define ECONNREFUSED 111

// A frontend slot 0 entry holds the backend count; slots 1..count hold the
// backend IDs, so a frontend is changed by writing its slots first and its
// count last.
struct svc_key {
	__u32 addr;  // network byte order
	__u16 port;  // network byte order
	__u8 proto;  // IPPROTO_TCP, IPPROTO_UDP
	__u8 pad;
	__u16 slot;
	__u16 pad2;
};

struct svc_value {
	__u32 count;            // slot 0: number of backends
	__u32 backend_id;       // slot > 0: the backend
	__u32 svc_id;           // identifies the frontend in affinity entries
	__u32 affinity_timeout; // seconds; 0 means no session affinity
	__u32 flags;            // SVC_HOST_ONLY
};

// The frontend only applies to sockets of the node's own network namespace:
// 127.0.0.1:<nodePort> means the node to a host process, but the pod itself
// inside a pod.
#define SVC_HOST_ONLY 1

// Set by the loader: the cookie of the node's network namespace.
volatile const __u64 host_netns_cookie = 0;

// Set by the loader: the service CIDR (network byte order; mask 0: unset). A
// cluster IP port that is no frontend is refused rather than left to the
// blackhole route, whose EINVAL would puzzle the client.
volatile const __u32 service_net = 0;
volatile const __u32 service_mask = 0;

struct backend {
	__u32 addr; // network byte order
	__u16 port; // network byte order
	__u8 proto;
	__u8 pad;
};

// One entry per socket and backend: what the socket's peer address should read
// as (the frontend) when it receives from or asks for that backend.
struct revnat_key {
	__u64 cookie;
	__u32 addr;
	__u16 port;
	__u16 pad;
};

struct revnat_value {
	__u32 addr;
	__u16 port;
	__u16 pad;
};

// Affinity is per client network namespace (each pod has its own), the
// closest a socket hook gets to a client IP.
struct affinity_key {
	__u64 netns_cookie;
	__u32 svc_id;
	__u32 pad;
};

// Affinity and flow entries remember the slot as well as the backend, so that
// a backend that left the frontend (but still serves another one) is never
// chosen again through them.
struct affinity_value {
	__u64 last_used; // bpf_ktime_get_ns
	__u32 backend_id;
	__u32 slot;
};

struct flow_value {
	__u32 backend_id;
	__u32 slot;
};

// Unconnected UDP sockets pick a backend once per frontend so that one
// socket's datagrams form one flow.
struct flow_key {
	__u64 cookie;
	__u32 svc_id;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, struct svc_key);
	__type(value, struct svc_value);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} kubeseed_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__type(key, __u32);
	__type(value, struct backend);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} kubeseed_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct revnat_key);
	__type(value, struct revnat_value);
} kubeseed_revnat SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct affinity_key);
	__type(value, struct affinity_value);
} kubeseed_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_value);
} kubeseed_flows SEC(".maps");

enum lb_result {
	LB_PASS,    // not a frontend: leave the address alone
	LB_REWRITE, // addr and port now name a backend
	LB_REFUSE,  // a frontend without backends
};

// still_member returns the backend when slot of the frontend still holds it.
static __always_inline struct backend *still_member(const struct svc_value *svc, struct svc_key *key,
						    __u32 slot, __u32 backend_id)
{
	struct svc_value *sv;

	if (slot == 0 || slot > svc->count)
		return NULL;
	key->slot = slot;
	sv = bpf_map_lookup_elem(&kubeseed_services, key);
	if (!sv || sv->backend_id != backend_id)
		return NULL;
	return bpf_map_lookup_elem(&kubeseed_backends, &backend_id);
}

static __always_inline struct backend *pick_backend(const struct svc_value *svc, struct svc_key *key,
						    __u64 netns, __u64 cookie, int udp_flow)
{
	struct affinity_key akey = { .netns_cookie = netns, .svc_id = svc->svc_id };
	struct flow_key fkey = { .cookie = cookie, .svc_id = svc->svc_id };
	struct affinity_value *aff;
	struct flow_value *flow;
	struct backend *be;
	__u64 now = 0;

	if (svc->affinity_timeout) {
		now = bpf_ktime_get_ns();
		aff = bpf_map_lookup_elem(&kubeseed_affinity, &akey);
		if (aff && now - aff->last_used <= (__u64)svc->affinity_timeout * 1000000000ULL) {
			be = still_member(svc, key, aff->slot, aff->backend_id);
			if (be) {
				aff->last_used = now;
				return be;
			}
		}
	}
	if (udp_flow) {
		flow = bpf_map_lookup_elem(&kubeseed_flows, &fkey);
		if (flow) {
			be = still_member(svc, key, flow->slot, flow->backend_id);
			if (be)
				return be;
		}
	}

	__u32 slot = (bpf_get_prandom_u32() % svc->count) + 1;
	key->slot = slot;
	struct svc_value *sv = bpf_map_lookup_elem(&kubeseed_services, key);
	if (!sv)
		return NULL;
	__u32 id = sv->backend_id;
	be = bpf_map_lookup_elem(&kubeseed_backends, &id);
	if (!be)
		return NULL;
	if (svc->affinity_timeout) {
		struct affinity_value nv = { .last_used = now, .backend_id = id, .slot = slot };
		bpf_map_update_elem(&kubeseed_affinity, &akey, &nv, BPF_ANY);
	}
	if (udp_flow) {
		struct flow_value fv = { .backend_id = id, .slot = slot };
		bpf_map_update_elem(&kubeseed_flows, &fkey, &fv, BPF_ANY);
	}
	return be;
}

// translate looks up addr:port (network byte order) as a frontend and, when it
// is one, rewrites them to a backend and records the reverse translation.
static __always_inline enum lb_result translate(void *ctx, __u32 *addr, __u16 *port, __u8 proto,
						 int udp_flow)
{
	struct svc_key key = { .addr = *addr, .port = *port, .proto = proto };
	struct svc_value *svc;
	struct backend *be;

	svc = bpf_map_lookup_elem(&kubeseed_services, &key);
	if (!svc) {
		if (service_mask && (*addr & service_mask) == service_net)
			return LB_REFUSE;
		return LB_PASS;
	}
	__u64 netns = bpf_get_netns_cookie(ctx);
	if ((svc->flags & SVC_HOST_ONLY) && netns != host_netns_cookie)
		return LB_PASS;
	if (svc->count == 0)
		return LB_REFUSE;

	__u64 cookie = bpf_get_socket_cookie(ctx);
	be = pick_backend(svc, &key, netns, cookie, udp_flow);
	if (!be)
		return LB_REFUSE;

	struct revnat_key rkey = { .cookie = cookie, .addr = be->addr, .port = be->port };
	struct revnat_value rval = { .addr = *addr, .port = *port };
	bpf_map_update_elem(&kubeseed_revnat, &rkey, &rval, BPF_ANY);

	*addr = be->addr;
	*port = be->port;
	return LB_REWRITE;
}

// reverse rewrites a backend address the socket talks to back to its frontend.
static __always_inline void reverse(void *ctx, __u32 *addr, __u16 *port)
{
	struct revnat_key rkey = { .cookie = bpf_get_socket_cookie(ctx), .addr = *addr, .port = *port };
	struct revnat_value *rval = bpf_map_lookup_elem(&kubeseed_revnat, &rkey);

	if (rval) {
		*addr = rval->addr;
		*port = rval->port;
	}
}

static __always_inline int forward4(struct bpf_sock_addr *ctx, int udp_flow)
{
	__u32 addr = ctx->user_ip4;
	__u16 port = (__u16)ctx->user_port;
	__u8 proto = ctx->protocol;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return SYS_PROCEED;
	switch (translate(ctx, &addr, &port, proto, udp_flow && proto == IPPROTO_UDP)) {
	case LB_REWRITE:
		ctx->user_ip4 = addr;
		ctx->user_port = port;
		return SYS_PROCEED;
	case LB_REFUSE:
		bpf_set_retval(-ECONNREFUSED);
		return SYS_REJECT;
	default:
		return SYS_PROCEED;
	}
}

static __always_inline int backward4(struct bpf_sock_addr *ctx)
{
	__u32 addr = ctx->user_ip4;
	__u16 port = (__u16)ctx->user_port;

	reverse(ctx, &addr, &port);
	ctx->user_ip4 = addr;
	ctx->user_port = port;
	return SYS_PROCEED;
}

// Dual-stack sockets reach IPv4 services through IPv4-mapped addresses
// (::ffff:a.b.c.d), which only the *6 hooks see.
static __always_inline int v4mapped(struct bpf_sock_addr *ctx)
{
	return ctx->user_ip6[0] == 0 && ctx->user_ip6[1] == 0 && ctx->user_ip6[2] == bpf_htonl(0xffff);
}

static __always_inline int forward6(struct bpf_sock_addr *ctx, int udp_flow)
{
	if (!v4mapped(ctx))
		return SYS_PROCEED;

	__u32 addr = ctx->user_ip6[3];
	__u16 port = (__u16)ctx->user_port;
	__u8 proto = ctx->protocol;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return SYS_PROCEED;
	switch (translate(ctx, &addr, &port, proto, udp_flow && proto == IPPROTO_UDP)) {
	case LB_REWRITE:
		ctx->user_ip6[3] = addr;
		ctx->user_port = port;
		return SYS_PROCEED;
	case LB_REFUSE:
		bpf_set_retval(-ECONNREFUSED);
		return SYS_REJECT;
	default:
		return SYS_PROCEED;
	}
}

static __always_inline int backward6(struct bpf_sock_addr *ctx)
{
	if (!v4mapped(ctx))
		return SYS_PROCEED;

	__u32 addr = ctx->user_ip6[3];
	__u16 port = (__u16)ctx->user_port;

	reverse(ctx, &addr, &port);
	ctx->user_ip6[3] = addr;
	ctx->user_port = port;
	return SYS_PROCEED;
}

SEC("cgroup/connect4")
int kubeseed_connect4(struct bpf_sock_addr *ctx) { return forward4(ctx, 1); }

SEC("cgroup/sendmsg4")
int kubeseed_sendmsg4(struct bpf_sock_addr *ctx) { return forward4(ctx, 1); }

SEC("cgroup/recvmsg4")
int kubeseed_recvmsg4(struct bpf_sock_addr *ctx) { return backward4(ctx); }

SEC("cgroup/getpeername4")
int kubeseed_getpeername4(struct bpf_sock_addr *ctx) { return backward4(ctx); }

SEC("cgroup/connect6")
int kubeseed_connect6(struct bpf_sock_addr *ctx) { return forward6(ctx, 1); }

SEC("cgroup/sendmsg6")
int kubeseed_sendmsg6(struct bpf_sock_addr *ctx) { return forward6(ctx, 1); }

SEC("cgroup/recvmsg6")
int kubeseed_recvmsg6(struct bpf_sock_addr *ctx) { return backward6(ctx); }

SEC("cgroup/getpeername6")
int kubeseed_getpeername6(struct bpf_sock_addr *ctx) { return backward6(ctx); }

char _license[] SEC("license") = "Dual BSD/GPL";
