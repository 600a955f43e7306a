// Package dns is kubeseed's node-local cluster DNS: a miekg/dns server that
// answers names in the cluster domain from Service and EndpointSlice informer
// caches, the way CoreDNS's kubernetes plugin does, and forwards every other
// name to the node's resolvers.
//
// Resolve is the pure part (a question and the objects in, an answer out);
// Server wires it to informers and sockets. Records in the zone:
//
//	<svc>.<ns>.svc.<zone>              A/AAAA: the cluster IPs; for a headless
//	                                   Service the ready endpoint addresses;
//	                                   ExternalName: a CNAME
//	_<port>._<proto>.<svc>.<ns>.svc... SRV for a named port (headless: one per
//	                                   endpoint, named by hostname or dashed IP)
//	<hostname>.<svc>.<ns>.svc.<zone>   A: an endpoint by its hostname
//	                                   (StatefulSet pods: web-0.<svc>...) or
//	                                   by its dashed address
//	<a-b-c-d>.<ns>.pod.<zone>          A: a.b.c.d ("pods insecure", the
//	                                   kubeadm default)
//	<d.c.b.a>.in-addr.arpa             PTR for cluster IPs and endpoint
//	                                   addresses; other addresses are forwarded
//
// Unknown names in the zone get NXDOMAIN with the zone's SOA; names that
// exist without records of the asked type get an empty NOERROR with the SOA.
// TTLs are 5 s, CoreDNS's default for the kubernetes plugin. PodResolvConf
// writes the resolv.conf that makes the short names (`echo`, `echo.default`)
// resolve from a pod.
package dns
