package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"
)

// Defaults for Config's empty fields.
const (
	DefaultClusterDomain = "cluster.local"
	DefaultResolvConf    = "/etc/resolv.conf"
)

// Config configures a Server.
type Config struct {
	// RestConfig reaches the API server; Client, when set, is used instead.
	RestConfig *rest.Config
	Client     kubernetes.Interface
	// ListenAddr is the UDP and TCP address to serve on, e.g. 10.244.0.1:53;
	// port 0 picks a free port (see Addr).
	ListenAddr string
	// ClusterDomain is the zone answered from the API (default cluster.local).
	ClusterDomain string
	// Upstreams are the resolvers (host:port) names outside the zone go to;
	// empty means the nameservers of /etc/resolv.conf, and the one entry
	// NoUpstream means none (such names get SERVFAIL).
	Upstreams []string
	// ForwardTimeout bounds one upstream exchange (default 2 s).
	ForwardTimeout time.Duration
}

// NoUpstream as the only upstream turns forwarding off: nothing but the
// cluster's names is answered, and no query leaves the node.
const NoUpstream = "none"

// Server is the node-local cluster DNS.
type Server struct {
	cfg    Config
	zone   string
	client kubernetes.Interface
	ready  chan struct{}

	mu   sync.Mutex
	addr string
	objs *cachedObjects
}

// New validates cfg and returns a Server; Run serves.
func New(cfg Config) (*Server, error) {
	if cfg.ListenAddr == "" {
		return nil, errors.New("dns: ListenAddr is required")
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = DefaultClusterDomain
	}
	if cfg.ForwardTimeout == 0 {
		cfg.ForwardTimeout = 2 * time.Second
	}
	if len(cfg.Upstreams) == 1 && cfg.Upstreams[0] == NoUpstream {
		cfg.Upstreams = nil
	} else if len(cfg.Upstreams) == 0 {
		conf, err := dns.ClientConfigFromFile(DefaultResolvConf)
		if err != nil {
			return nil, fmt.Errorf("dns: reading upstream resolvers: %w", err)
		}
		for _, s := range conf.Servers {
			up := net.JoinHostPort(s, conf.Port)
			// Forwarding to ourselves would loop.
			if up != cfg.ListenAddr {
				cfg.Upstreams = append(cfg.Upstreams, up)
			}
		}
	}
	client := cfg.Client
	if client == nil {
		if cfg.RestConfig == nil {
			return nil, errors.New("dns: RestConfig or Client is required")
		}
		var err error
		if client, err = kubernetes.NewForConfig(cfg.RestConfig); err != nil {
			return nil, fmt.Errorf("dns: building client: %w", err)
		}
	}
	return &Server{cfg: cfg, zone: dns.Fqdn(strings.ToLower(cfg.ClusterDomain)), client: client, ready: make(chan struct{})}, nil
}

// Ready is closed once the caches are synced and the sockets listen.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addr is the address the server listens on (valid once Ready).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Run syncs the caches, listens on UDP and TCP and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	log := klog.FromContext(ctx).WithName("dns")
	factory := informers.NewSharedInformerFactory(s.client, 0)
	svcs := factory.Core().V1().Services()
	slices := factory.Discovery().V1().EndpointSlices().Informer()
	if err := slices.AddIndexers(cache.Indexers{serviceIndex: indexByService, addressIndex: indexByAddress}); err != nil {
		return err
	}
	// The factory's Service informer already indexes by namespace.
	svcInformer := svcs.Informer()
	if err := svcInformer.AddIndexers(cache.Indexers{clusterIPIndex: indexByClusterIP}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), svcInformer.HasSynced, slices.HasSynced) {
		return ctx.Err()
	}
	objs := &cachedObjects{services: svcs.Lister(), serviceIndexer: svcInformer.GetIndexer(), slices: slices.GetIndexer()}

	pc, l, err := listen(s.cfg.ListenAddr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.addr, s.objs = pc.LocalAddr().String(), objs
	s.mu.Unlock()
	udp := &dns.Server{PacketConn: pc, Handler: s}
	tcp := &dns.Server{Listener: l, Handler: s}
	errs := make(chan error, 2)
	go func() { errs <- udp.ActivateAndServe() }()
	go func() { errs <- tcp.ActivateAndServe() }()
	log.Info("Cluster DNS serving", "addr", s.addr, "zone", s.zone, "upstreams", s.cfg.Upstreams)
	close(s.ready)

	select {
	case <-ctx.Done():
	case err = <-errs:
		err = fmt.Errorf("dns: serving: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = udp.ShutdownContext(sctx)
	_ = tcp.ShutdownContext(sctx)
	return err
}

// listen opens the UDP socket and a TCP listener on the same port. The
// sockets may bind an address the node does not have yet (IP_FREEBIND): the
// pod bridge, whose address the DNS server listens on, appears only when the
// first pod starts.
func listen(addr string) (net.PacketConn, net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_FREEBIND, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	ctx := context.Background()
	for range 20 {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			return nil, nil, fmt.Errorf("dns: listening on udp %s: %w", addr, err)
		}
		l, err := lc.Listen(ctx, "tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		if _, port, _ := net.SplitHostPort(addr); port != "0" {
			return nil, nil, fmt.Errorf("dns: listening on tcp %s: %w", addr, err)
		}
	}
	return nil, nil, fmt.Errorf("dns: no port free on both UDP and TCP at %s", addr)
}

// ServeDNS answers one query: from the caches inside the zone, through the
// upstream resolvers outside it.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	s.mu.Lock()
	objs := s.objs
	s.mu.Unlock()
	var a Answer
	if InZone(q.Name, s.zone) {
		a = Resolve(q, s.zone, objs)
	} else if ra, ok := ResolveReverse(q, s.zone, objs); ok {
		a = ra
	} else {
		_ = w.WriteMsg(s.forward(req, w.RemoteAddr().Network()))
		return
	}
	if n := len(a.Answer); n > 0 && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA) {
		// An ExternalName's CNAME out of the zone: follow it upstream.
		if c, ok := a.Answer[n-1].(*dns.CNAME); ok && !InZone(c.Target, s.zone) {
			up := new(dns.Msg)
			up.SetQuestion(c.Target, q.Qtype)
			if resp := s.forward(up, w.RemoteAddr().Network()); resp.Rcode == dns.RcodeSuccess {
				a.Answer = append(a.Answer, resp.Answer...)
			}
		}
	}
	m := new(dns.Msg)
	m.SetRcode(req, a.Rcode)
	m.Authoritative, m.RecursionAvailable = true, true
	m.Answer, m.Ns, m.Extra = a.Answer, a.Ns, a.Extra
	if w.RemoteAddr().Network() == "udp" {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}

// forward sends req to each upstream in turn, retrying over TCP when a UDP
// answer is truncated; SERVFAIL when none answers.
func (s *Server) forward(req *dns.Msg, network string) *dns.Msg {
	if network != "tcp" {
		network = "udp"
	}
	for _, up := range s.cfg.Upstreams {
		c := &dns.Client{Net: network, Timeout: s.cfg.ForwardTimeout}
		resp, _, err := c.Exchange(req, up)
		if err == nil && resp.Truncated && network == "udp" {
			c.Net = "tcp"
			resp, _, err = c.Exchange(req, up)
		}
		if err == nil {
			return resp
		}
	}
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeServerFailure)
	m.RecursionAvailable = true
	return m
}

const (
	serviceIndex   = "service"
	addressIndex   = "address"
	clusterIPIndex = "clusterIP"
)

func indexByAddress(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, ep := range s.Endpoints {
		out = append(out, ep.Addresses...)
	}
	return out, nil
}

func indexByClusterIP(obj any) ([]string, error) {
	s, ok := obj.(*corev1.Service)
	if !ok || s.Spec.ClusterIP == "" || s.Spec.ClusterIP == corev1.ClusterIPNone {
		return nil, nil
	}
	if len(s.Spec.ClusterIPs) > 0 {
		return s.Spec.ClusterIPs, nil
	}
	return []string{s.Spec.ClusterIP}, nil
}

func indexByService(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelServiceName] == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]}, nil
}

// cachedObjects reads Objects from informer caches.
type cachedObjects struct {
	services       corelisters.ServiceLister
	serviceIndexer cache.Indexer
	slices         cache.Indexer
}

func (c *cachedObjects) Service(namespace, name string) *corev1.Service {
	svc, err := c.services.Services(namespace).Get(name)
	if err != nil {
		return nil
	}
	return svc
}

func (c *cachedObjects) EndpointSlices(namespace, service string) []*discoveryv1.EndpointSlice {
	objs, _ := c.slices.ByIndex(serviceIndex, namespace+"/"+service)
	out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*discoveryv1.EndpointSlice))
	}
	return out
}

func (c *cachedObjects) NamespaceHasServices(namespace string) bool {
	keys, _ := c.serviceIndexer.IndexKeys(cache.NamespaceIndex, namespace)
	return len(keys) > 0
}

func (c *cachedObjects) ServicesByIP(ip string) []*corev1.Service {
	objs, _ := c.serviceIndexer.ByIndex(clusterIPIndex, ip)
	out := make([]*corev1.Service, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*corev1.Service))
	}
	return out
}

func (c *cachedObjects) EndpointSlicesByIP(ip string) []*discoveryv1.EndpointSlice {
	objs, _ := c.slices.ByIndex(addressIndex, ip)
	out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*discoveryv1.EndpointSlice))
	}
	return out
}
