package proxy

import (
	"context"
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"

	"github.com/kubeseed/kubeseed/kubelet/proxy/bpf"
	"github.com/kubeseed/kubeseed/kubelet/proxy/lbmap"
	"github.com/kubeseed/kubeseed/kubelet/proxy/model"
)

// Defaults for Config's empty fields.
const (
	DefaultServiceCIDR = "10.96.0.0/12"
	// DefaultCgroupPath is the cgroup2 root of a hybrid host; on a unified
	// host (cgroup2 at /sys/fs/cgroup) that root is used instead.
	DefaultCgroupPath = "/sys/fs/cgroup/unified"
	DefaultPinPath    = "/sys/fs/bpf/kubeseed"
)

// Config configures a Proxy.
type Config struct {
	// RestConfig reaches the API server; Client, when set, is used instead.
	RestConfig *rest.Config
	Client     kubernetes.Interface
	// NodeName is this node, for internalTrafficPolicy Local.
	NodeName string
	// ServiceCIDR gets a blackhole route (default DefaultServiceCIDR).
	ServiceCIDR string
	// CgroupPath is the cgroup2 directory the programs attach to; sockets of
	// every process in it and below are translated (default DefaultCgroupPath).
	CgroupPath string
	// PinPath is the directory on a bpf filesystem holding the pinned maps and
	// links (default DefaultPinPath; /sys/fs/bpf is mounted when needed).
	PinPath string
	// CleanupOnExit removes pins, links and the route when Run returns. By
	// default they stay, so Services keep routing while the agent restarts.
	CleanupOnExit bool
	// NodeIPs are the node's addresses NodePort Services answer on; empty
	// means every IPv4 address of the node's interfaces at start.
	NodeIPs []netip.Addr
	// NodeLocalDNS, when valid, is where the kube-system/kube-dns Service's
	// ports lead on this node (the node's DNS listener), whatever its
	// endpoints say, so each node's pods ask their own node.
	NodeLocalDNS netip.AddrPort
}

func (c *Config) defaults() {
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = DefaultServiceCIDR
	}
	if c.CgroupPath == "" {
		c.CgroupPath = DefaultCgroupPath
		var st unix.Statfs_t
		if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			c.CgroupPath = "/sys/fs/cgroup"
		}
	}
	if c.PinPath == "" {
		c.PinPath = DefaultPinPath
	}
}

// Proxy routes Service cluster IPs to endpoints on this node.
type Proxy struct {
	cfg    Config
	cidr   netip.Prefix
	client kubernetes.Interface
	ready  chan struct{}

	syncer    *syncer
	nodePorts *nodePorts
}

// New validates cfg and returns a Proxy; Run starts it.
func New(cfg Config) (*Proxy, error) {
	cfg.defaults()
	cidr, err := netip.ParsePrefix(cfg.ServiceCIDR)
	if err != nil || !cidr.Addr().Is4() {
		return nil, fmt.Errorf("service CIDR %q is not an IPv4 prefix", cfg.ServiceCIDR)
	}
	client := cfg.Client
	if client == nil {
		if cfg.RestConfig == nil {
			return nil, errors.New("proxy: RestConfig or Client is required")
		}
		if client, err = kubernetes.NewForConfig(cfg.RestConfig); err != nil {
			return nil, fmt.Errorf("proxy: building client: %w", err)
		}
	}
	return &Proxy{cfg: cfg, cidr: cidr, client: client, ready: make(chan struct{})}, nil
}

// Ready is closed once the first full sync is in the maps and the programs
// are attached. It stays open when Run fails first: wait on both.
func (p *Proxy) Ready() <-chan struct{} { return p.ready }

// Run installs the service CIDR route, loads (or adopts) the datapath, syncs
// every Service into it, attaches the programs and follows changes until ctx
// ends.
func (p *Proxy) Run(ctx context.Context) (err error) {
	log := klog.FromContext(ctx).WithName("proxy")
	if err := CheckPrerequisites(p.cfg.CgroupPath); err != nil {
		return err
	}
	// The route goes first: from here on VIP traffic stays on the node even if
	// anything below fails.
	if err := AddBlackholeRoute(p.cidr); err != nil {
		return err
	}
	if err := ensureBPFFS(p.cfg.PinPath); err != nil {
		return err
	}
	dp, err := bpf.Load(p.cfg.PinPath, p.cidr)
	if err != nil {
		return explainPermission(err)
	}
	if err := recordRoute(p.cfg.PinPath, p.cidr); err != nil {
		dp.Close()
		return err
	}
	defer func() {
		dp.Close()
		if p.cfg.CleanupOnExit {
			err = errors.Join(err, Cleanup(p.cfg.PinPath))
		}
	}()
	nodeIPs := p.cfg.NodeIPs
	if len(nodeIPs) == 0 {
		if nodeIPs, err = interfaceAddrs(); err != nil {
			return err
		}
	}
	s, err := newSyncer(mapsOf(dp), nodeIPs...)
	if err != nil {
		return fmt.Errorf("adopting pinned service maps: %w", err)
	}
	p.syncer = s
	p.nodePorts = newNodePorts(log, p.cfg.NodeIPs)
	defer p.nodePorts.Close()

	factory := informers.NewSharedInformerFactory(p.client, 0)
	svcInformer := factory.Core().V1().Services()
	sliceInformer := factory.Discovery().V1().EndpointSlices()
	queue := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[syncKey](),
		workqueue.TypedRateLimitingQueueConfig[syncKey]{Name: "proxy"})
	defer queue.ShutDown()
	enqueue := func(obj any, name func(metav1.Object) (syncKey, bool)) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if o, err := meta.Accessor(obj); err == nil {
			if n, ok := name(o); ok {
				queue.Add(n)
			}
		}
	}
	svcName := func(o metav1.Object) (syncKey, bool) {
		return syncKey{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}}, true
	}
	sliceService := func(o metav1.Object) (syncKey, bool) {
		n := o.GetLabels()[discoveryv1.LabelServiceName]
		return syncKey{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: n}}, n != ""
	}
	podName := func(o metav1.Object) (syncKey, bool) {
		return syncKey{pod: true, NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}}, true
	}
	handler := func(name func(metav1.Object) (syncKey, bool)) cache.ResourceEventHandlerFuncs {
		return cache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { enqueue(o, name) },
			UpdateFunc: func(_, o any) { enqueue(o, name) },
			DeleteFunc: func(o any) { enqueue(o, name) },
		}
	}
	if _, err := svcInformer.Informer().AddEventHandler(handler(svcName)); err != nil {
		return err
	}
	if _, err := sliceInformer.Informer().AddEventHandler(handler(sliceService)); err != nil {
		return err
	}
	if err := sliceInformer.Informer().AddIndexers(cache.Indexers{serviceIndex: indexByService}); err != nil {
		return err
	}
	// Host ports are the pods of this node only.
	podFactory := informers.NewSharedInformerFactoryWithOptions(p.client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", p.cfg.NodeName).String()
	}))
	podInformer := podFactory.Core().V1().Pods()
	synced := []cache.InformerSynced{svcInformer.Informer().HasSynced, sliceInformer.Informer().HasSynced}
	if p.cfg.NodeName != "" {
		if _, err := podInformer.Informer().AddEventHandler(handler(podName)); err != nil {
			return err
		}
		synced = append(synced, podInformer.Informer().HasSynced)
		podFactory.Start(ctx.Done())
		defer podFactory.Shutdown()
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return ctx.Err()
	}
	svcLister, sliceIndexer, podLister := svcInformer.Lister(), sliceInformer.Informer().GetIndexer(), podInformer.Lister()

	start := time.Now()
	all, err := svcLister.List(labels.Everything())
	if err != nil {
		return err
	}
	var desired []*model.Service
	for _, svc := range all {
		if m := p.translate(svc, sliceIndexer); m != nil {
			desired = append(desired, m)
			p.nodePorts.Set(m.Name, m)
		}
	}
	if p.cfg.NodeName != "" {
		pods, err := podLister.List(labels.Everything())
		if err != nil {
			return err
		}
		for _, pod := range pods {
			if m := model.FromHostPorts(pod); m != nil {
				desired = append(desired, m)
				p.nodePorts.Set(m.Name, m)
			}
		}
	}
	if err := s.Replace(desired); err != nil {
		return fmt.Errorf("initial service sync: %w", err)
	}
	if err := dp.Attach(p.cfg.CgroupPath); err != nil {
		return explainPermission(err)
	}
	log.Info("Service proxy ready", "services", len(desired), "duration", time.Since(start), "cgroup", p.cfg.CgroupPath, "pinPath", p.cfg.PinPath)
	close(p.ready)

	go func() {
		<-ctx.Done()
		queue.ShutDown()
	}()
	for p.processNext(ctx, queue, svcLister, sliceIndexer, podLister) {
	}
	return nil
}

// syncKey is what the proxy's queue holds: a Service, or a pod of this node
// with host ports.
type syncKey struct {
	pod bool
	types.NamespacedName
}

func mapsOf(dp *bpf.Datapath) *lbmap.Maps {
	return &lbmap.Maps{
		Services: dp.KubeseedServices, Backends: dp.KubeseedBackends, RevNat: dp.KubeseedRevnat,
		Affinity: dp.KubeseedAffinity, Flows: dp.KubeseedFlows,
	}
}

const serviceIndex = "service"

func indexByService(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	n := s.Labels[discoveryv1.LabelServiceName]
	if n == "" {
		return nil, nil
	}
	return []string{s.Namespace + "/" + n}, nil
}

func (p *Proxy) translate(svc *corev1.Service, slices cache.Indexer) *model.Service {
	objs, _ := slices.ByIndex(serviceIndex, svc.Namespace+"/"+svc.Name)
	ss := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		ss = append(ss, o.(*discoveryv1.EndpointSlice))
	}
	m := model.FromKubernetes(svc, ss, p.cfg.NodeName)
	if m != nil && p.cfg.NodeLocalDNS.IsValid() && svc.Namespace == metav1.NamespaceSystem && svc.Name == "kube-dns" {
		for i := range m.Ports {
			m.Ports[i].Backends = []model.Backend{{
				IP: p.cfg.NodeLocalDNS.Addr(), Port: p.cfg.NodeLocalDNS.Port(), Ready: true, Serving: true, NodeName: p.cfg.NodeName,
			}}
		}
	}
	return m
}

func (p *Proxy) processNext(ctx context.Context, queue workqueue.TypedRateLimitingInterface[syncKey],
	svcs corelisters.ServiceLister, slices cache.Indexer, pods corelisters.PodLister) bool {
	key, shutdown := queue.Get()
	if shutdown {
		return false
	}
	defer queue.Done(key)
	var name model.ServiceName
	var m *model.Service
	var err error
	if key.pod {
		name = model.HostPortsName(key.Namespace, key.Name)
		var pod *corev1.Pod
		if pod, err = pods.Pods(key.Namespace).Get(key.Name); err == nil {
			m = model.FromHostPorts(pod)
		}
	} else {
		name = model.ServiceName{Namespace: key.Namespace, Name: key.Name}
		var svc *corev1.Service
		if svc, err = svcs.Services(key.Namespace).Get(key.Name); err == nil {
			m = p.translate(svc, slices)
		}
	}
	switch {
	case apierrors.IsNotFound(err):
		p.nodePorts.Set(name, nil)
		err = p.syncer.Delete(name)
	case err == nil:
		p.nodePorts.Set(name, m)
		if m != nil {
			err = p.syncer.Upsert(m)
		} else {
			err = p.syncer.Delete(name)
		}
	}
	if err != nil {
		klog.FromContext(ctx).Error(err, "Syncing service", "service", key)
		queue.AddRateLimited(key)
		return true
	}
	klog.FromContext(ctx).V(4).Info("Synced service", "service", key)
	queue.Forget(key)
	return true
}

// interfaceAddrs returns the node's IPv4 addresses except loopback ones.
func interfaceAddrs() ([]netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, fmt.Errorf("listing node addresses for NodePorts: %w", err)
	}
	var out []netip.Addr
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() && !ip.IsLoopback() {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}

// Cleanup removes what a Proxy with pin path pinPath leaves behind: the
// pinned links (which detaches the programs), the pinned maps and the service
// CIDR's blackhole route (whose prefix the Proxy records next to its pins).
// Nothing there is not an error.
func Cleanup(pinPath string) error {
	var errs []error
	if cidr, ok, err := recordedRoute(pinPath); err != nil {
		errs = append(errs, err)
	} else if ok {
		errs = append(errs, DeleteBlackholeRoute(cidr))
	}
	errs = append(errs, bpf.Unpin(pinPath))
	return errors.Join(errs...)
}

// ensureBPFFS makes sure pinPath lies on a bpf filesystem, mounting one on
// /sys/fs/bpf when the pin path is below it and nothing is mounted there yet
// (systemd does this on most distributions; machines without it do not).
func ensureBPFFS(pinPath string) error {
	return ensureBPFFSAt(pinPath, "/sys/fs/bpf")
}

// ensureBPFFSAt is ensureBPFFS with the conventional mount point sysBPF.
func ensureBPFFSAt(pinPath, sysBPF string) error {
	dir := filepath.Clean(pinPath)
	for {
		if _, err := os.Stat(dir); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if isBPFFS(dir) {
		return nil
	}
	if pinPath == sysBPF || strings.HasPrefix(filepath.Clean(pinPath), sysBPF+"/") {
		if isBPFFS(sysBPF) {
			return nil
		}
		if err := mountBPFFS(sysBPF); err != nil {
			return fmt.Errorf("mounting a bpf filesystem on %s for the proxy's pins: %w", sysBPF, err)
		}
		return nil
	}
	return fmt.Errorf("service proxy: pin path %s is not on a bpf filesystem (mount -t bpf bpf DIR)", pinPath)
}
