package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/kubeseed/kubeseed/kubelet/network"
	"github.com/kubeseed/kubeseed/kubelet/node"
	"github.com/kubeseed/kubeseed/kubelet/podworker"
	"github.com/kubeseed/kubeseed/kubelet/registry"
	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
	"github.com/kubeseed/kubeseed/kubelet/runtime/containerd"
	"github.com/kubeseed/kubeseed/kubelet/runtime/simulated"
	"github.com/kubeseed/kubeseed/kubelet/server"
	"github.com/kubeseed/kubeseed/kubelet/stats"
	"github.com/kubeseed/kubeseed/kubelet/volumes"
	"github.com/kubeseed/kubeseed/version"
)

// Agent is a node agent.
type Agent struct {
	cfg    Config
	client kubernetes.Interface
	// events has its own rate limit, as upstream's kubelet (eventRecordQPS
	// beside kubeAPIQPS): a burst of pod starts sends several events per
	// pod, and status updates must not queue behind them.
	events kubernetes.Interface
}

// New checks cfg and returns an Agent; nothing starts before Run.
func New(cfg Config) (*Agent, error) {
	if err := cfg.complete(); err != nil {
		return nil, err
	}
	rc := rest.CopyConfig(cfg.RestConfig)
	if rc.QPS == 0 {
		// Upstream kubelet's API rate: status updates of 110 pods need it.
		rc.QPS, rc.Burst = 50, 100
	}
	if rc.ContentType == "" {
		// As upstream kubelet (--kube-api-content-type): pods, nodes and
		// leases decode several times cheaper than from JSON.
		rc.ContentType = runtime.ContentTypeProtobuf
		rc.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	}
	if rc.UserAgent == "" {
		rc.UserAgent = "kubeseed-kubelet/" + version.Kubernetes
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubelet: API client: %w", err)
	}
	// The same rate (upstream's eventRecordQPS and eventBurst are 50 and
	// 100 too), in a token bucket of its own.
	erc := rest.CopyConfig(rc)
	erc.RateLimiter = nil
	events, err := kubernetes.NewForConfig(erc)
	if err != nil {
		return nil, fmt.Errorf("kubelet: API client for events: %w", err)
	}
	if cfg.NodeIP == "" {
		cfg.NodeIP = node.InternalIP(cfg.BridgeName)
	}
	return &Agent{cfg: cfg, client: client, events: events}, nil
}

// NodeIP is the address the agent reports for its node.
func (a *Agent) NodeIP() string { return a.cfg.NodeIP }

func (a *Agent) newRuntime(ctx context.Context, notify kruntime.Notifier) (kruntime.Runtime, error) {
	if a.cfg.Runtime == RuntimeSimulated {
		return simulated.New(simulated.Config{StartDelay: a.cfg.SimulatedStartDelay, PodCIDR: a.cfg.PodCIDR, Notify: notify})
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("kubelet: the containerd runtime needs root (or use --runtime simulated)")
	}
	net, err := network.New(network.Config{PodCIDR: a.cfg.PodCIDR, Bridge: a.cfg.BridgeName, StateDir: filepath.Join(a.cfg.RootDir, "network")})
	if err != nil {
		return nil, err
	}
	hostResolv, _ := os.ReadFile("/etc/resolv.conf")
	return containerd.New(ctx, containerd.Config{
		Address:          a.cfg.ContainerdAddress,
		RootDir:          a.cfg.RootDir,
		Network:          net,
		DNS:              network.DNSConfig{ClusterDNS: a.cfg.ClusterDNS, ClusterDomain: a.cfg.ClusterDomain, HostResolvConf: string(hostResolv)},
		NodeIP:           a.cfg.NodeIP,
		CgroupParent:     a.cfg.CgroupParent,
		BusyboxBinary:    a.cfg.BusyboxBinary,
		Notify:           notify,
		HostsDir:         a.hostsDir(),
		RegistryFallback: a.cfg.RegistryFallback,
	})
}

// hostsDir holds containerd's registry host configuration (hosts.toml per
// registry).
func (a *Agent) hostsDir() string { return filepath.Join(a.cfg.RootDir, "certs.d") }

// startMirror serves the images of the node's containerd on loopback and
// points the mirrored registries' host configuration at it, so pulls
// (imagePullPolicy Always above all) are answered by the node itself. It
// returns what stops the mirror and waits for it.
func (a *Agent) startMirror(ctx context.Context, rt *containerd.Runtime) (func(), error) {
	c := rt.Client()
	m, err := registry.New(registry.Config{Address: a.cfg.RegistryMirrorAddress,
		Images: c.ImageService(), Content: c.ContentStore(), Namespace: containerd.Namespace})
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	mctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(done)
		if err := m.Run(mctx); err != nil {
			klog.FromContext(ctx).Error(err, "Registry mirror stopped")
		}
	}()
	stop := func() { cancel(); <-done }
	if err := registry.WriteHostsConfig(a.hostsDir(), m.URL(), a.cfg.MirroredRegistries); err != nil {
		stop()
		return nil, fmt.Errorf("kubelet: registry host configuration: %w", err)
	}
	klog.FromContext(ctx).Info("Registry mirror serving the node's images", "url", m.URL(),
		"mirrored", a.cfg.MirroredRegistries, "fallback", a.cfg.RegistryFallback)
	return stop, nil
}

// Run starts the agent and blocks until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	log := klog.FromContext(ctx).WithValues("node", a.cfg.NodeName)
	ctx = klog.NewContext(ctx, log)
	if err := os.MkdirAll(a.cfg.RootDir, 0o700); err != nil {
		return fmt.Errorf("kubelet: root dir: %w", err)
	}
	// The runtime reports exits to the workers, which need the runtime
	// first: the pointer is filled in once they exist.
	var workersRef atomic.Pointer[podworker.Workers]
	notify := func(uid types.UID) {
		if w := workersRef.Load(); w != nil {
			w.Notify(uid)
		}
	}
	rt, err := a.newRuntime(ctx, notify)
	if err != nil {
		return err
	}
	defer rt.Close()
	if crt, ok := rt.(*containerd.Runtime); ok {
		stop, err := a.startMirror(ctx, crt)
		if err != nil {
			return err
		}
		// Before the runtime closes: requests in flight read its store.
		defer stop()
	}
	// Services feed the containers' service environment variables. The
	// list runs while the node registers; pods wait for it (below), so
	// none starts without KUBERNETES_SERVICE_HOST.
	services := cache.NewSharedIndexInformer(
		cache.NewListWatchFromClient(a.client.CoreV1().RESTClient(), "services", corev1.NamespaceAll, fields.Everything()),
		&corev1.Service{}, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	sctx, stopServices := context.WithCancel(ctx)
	defer stopServices()
	go services.RunWithContext(sctx)
	rtName, rtVersion, err := rt.Version(ctx)
	if err != nil {
		return fmt.Errorf("kubelet: runtime version: %w", err)
	}

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: a.events.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: a.cfg.NodeName})

	// The node's pods, for /metrics/resource, once the pod cache exists.
	var podStore atomic.Value
	var daemonPort int32
	if len(a.cfg.ClientCA) > 0 {
		metrics := &stats.Source{Cgroups: stats.Cgroups{Parent: a.cfg.CgroupParent}, Runtime: rt, Pods: func() []*corev1.Pod {
			store, _ := podStore.Load().(cache.Store)
			if store == nil {
				return nil
			}
			var pods []*corev1.Pod
			for _, obj := range store.List() {
				pods = append(pods, obj.(*corev1.Pod))
			}
			return pods
		}}
		if a.cfg.Runtime != RuntimeContainerd {
			metrics.Runtime = nil // simulated pods have no cgroups to read
		}
		srv, err := server.New(server.Config{Address: a.cfg.ServerAddress, ClientCA: a.cfg.ClientCA,
			NodeName: a.cfg.NodeName, NodeIP: a.cfg.NodeIP, Client: a.client, Runtime: rt, Metrics: metrics.Handler()})
		if err != nil {
			return err
		}
		daemonPort = srv.Port()
		go func() {
			if err := srv.Run(ctx); err != nil {
				log.Error(err, "Node HTTPS endpoint stopped")
			}
		}()
	} else {
		log.Info("No client CA given: not serving logs on the node port")
	}
	hostname, _ := os.Hostname()
	hb, err := node.New(node.Config{
		Client: a.client, NodeName: a.cfg.NodeName, PodCIDR: a.cfg.PodCIDR, NodeIP: a.cfg.NodeIP,
		Hostname: hostname, RootDir: a.cfg.RootDir, RuntimeVersion: rtName + "://" + rtVersion,
		KubeletVersion: version.Kubernetes, RenewInterval: a.cfg.HeartbeatInterval, DaemonPort: daemonPort,
	})
	if err != nil {
		return err
	}
	// The API server may still be starting (kubeseed up): keep trying.
	for {
		err := hb.Register(ctx)
		if err == nil {
			break
		}
		log.Error(err, "Registering node, will retry")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}

	var vols *volumes.Manager
	if a.cfg.Runtime == RuntimeContainerd {
		vols = volumes.New(a.client, a.cfg.RootDir)
	}
	allocatable, err := node.Capacity(a.cfg.RootDir)
	if err != nil {
		return fmt.Errorf("kubelet: reading the machine's capacity: %w", err)
	}
	workers := podworker.New(ctx, podworker.Config{
		Client: a.client, Runtime: rt, Recorder: recorder, RuntimeName: rtName, NodeIP: a.cfg.NodeIP, Resync: a.cfg.Resync,
		Volumes: vols, Allocatable: allocatable, Services: corelisters.NewServiceLister(services.GetIndexer()),
	})
	workersRef.Store(workers)
	informer := cache.NewSharedIndexInformer(
		cache.NewListWatchFromClient(a.client.CoreV1().RESTClient(), "pods", corev1.NamespaceAll,
			fields.OneTermEqualSelector("spec.nodeName", a.cfg.NodeName)),
		&corev1.Pod{}, 0, cache.Indexers{})
	podStore.Store(informer.GetStore())
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { workers.Update(obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { workers.Update(obj.(*corev1.Pod)) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				workers.Gone(pod.UID, pod)
			}
		},
	}); err != nil {
		return err
	}
	if !cache.WaitForCacheSync(ctx.Done(), services.HasSynced) {
		return nil
	}
	go informer.RunWithContext(ctx)
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		workers.Wait()
		return nil
	}
	a.cleanupOrphans(ctx, rt, informer, workers)
	log.Info("Node agent running", "runtime", rtName+"://"+rtVersion, "nodeIP", a.cfg.NodeIP, "podCIDR", a.cfg.PodCIDR)
	hb.Run(ctx)
	workers.Wait()
	log.Info("Node agent stopped")
	return nil
}

// cleanupOrphans tears down pods left in the runtime whose API objects are
// gone (deleted while the agent was down).
func (a *Agent) cleanupOrphans(ctx context.Context, rt kruntime.Runtime, informer cache.SharedIndexInformer, workers *podworker.Workers) {
	uids, err := rt.Pods(ctx)
	if err != nil {
		klog.FromContext(ctx).Error(err, "Listing pods in the runtime")
		return
	}
	known := map[types.UID]bool{}
	for _, obj := range informer.GetStore().List() {
		known[obj.(*corev1.Pod).UID] = true
	}
	for _, uid := range uids {
		if !known[uid] {
			klog.FromContext(ctx).Info("Removing orphaned pod", "podUID", uid)
			workers.Gone(uid, nil)
		}
	}
}
