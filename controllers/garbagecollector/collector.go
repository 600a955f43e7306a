package garbagecollector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/metadata"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
)

// Name is the collector's name in logs.
const Name = "garbage-collector"

// ignoredResources are never collected, as upstream ignores them: events
// are many, short-lived and never owners.
var ignoredResources = sets.New(
	schema.GroupResource{Group: "", Resource: "events"},
	schema.GroupResource{Group: "events.k8s.io", Resource: "events"},
)

// Config tunes the collector.
type Config struct {
	// Workers process dependents in parallel; default 5.
	Workers int
	// DiscoveryPeriod is how often new resources (CRDs) are looked for;
	// default 30s.
	DiscoveryPeriod time.Duration
}

// Collector is the garbage collector, a manager Runnable.
type Collector struct {
	cfg       Config
	cache     cache.Cache
	mapper    meta.RESTMapper
	metadata  metadata.Interface
	discovery discovery.DiscoveryInterface
	graph     *graph
	queue     workqueue.TypedRateLimitingInterface[objectRef]

	mu      sync.Mutex
	watched map[schema.GroupVersionKind]schema.GroupVersionResource
	synced  []func() bool
}

// +kubebuilder:rbac:groups=*,resources=*,verbs=get;list;watch;patch;update;delete

// SetupWithManager adds a collector with the default Config to mgr.
func SetupWithManager(mgr ctrl.Manager) error {
	c, err := New(mgr, Config{})
	if err != nil {
		return err
	}
	return mgr.Add(c)
}

// New builds a collector that watches through mgr's cache.
func New(mgr ctrl.Manager, cfg Config) (*Collector, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 5
	}
	if cfg.DiscoveryPeriod <= 0 {
		cfg.DiscoveryPeriod = 30 * time.Second
	}
	md, err := metadata.NewForConfig(mgr.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("garbage collector metadata client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(mgr.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("garbage collector discovery client: %w", err)
	}
	return &Collector{
		cfg:       cfg,
		cache:     mgr.GetCache(),
		mapper:    mgr.GetRESTMapper(),
		metadata:  md,
		discovery: dc,
		graph:     newGraph(),
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[objectRef](),
			workqueue.TypedRateLimitingQueueConfig[objectRef]{Name: "garbagecollector"}),
		watched: map[schema.GroupVersionKind]schema.GroupVersionResource{},
	}, nil
}

// NeedLeaderElection makes only the leader collect.
func (c *Collector) NeedLeaderElection() bool { return true }

// Start runs the collector until ctx ends.
func (c *Collector) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName(Name)
	ctx = ctrl.LoggerInto(ctx, log)
	defer c.queue.ShutDown()
	if err := c.watchResources(ctx); err != nil {
		log.Error(err, "discovering resources (will retry)")
	}
	if !toolscache.WaitForCacheSync(ctx.Done(), c.hasSynced) {
		return nil
	}
	log.Info("garbage collector synced", "resources", len(c.watched))
	var wg sync.WaitGroup
	for range c.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c.processNext(ctx) {
			}
		}()
	}
	tick := time.NewTicker(c.cfg.DiscoveryPeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			c.queue.ShutDown()
			wg.Wait()
			return nil
		case <-tick.C:
			if err := c.watchResources(ctx); err != nil {
				log.Error(err, "rediscovering resources")
			}
		}
	}
}

func (c *Collector) hasSynced() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.synced {
		if !s() {
			return false
		}
	}
	return true
}

// watchResources starts a metadata informer on every deletable resource not
// yet watched.
func (c *Collector) watchResources(ctx context.Context) error {
	lists, err := c.discovery.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return fmt.Errorf("discovery: %w", err)
	}
	deletable := discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"delete", "list", "watch"}}, lists)
	var errs []error
	for _, list := range deletable {
		gv, perr := schema.ParseGroupVersion(list.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || ignoredResources.Has(schema.GroupResource{Group: gv.Group, Resource: r.Name}) {
				continue
			}
			gvk := gv.WithKind(r.Kind)
			c.mu.Lock()
			_, seen := c.watched[gvk]
			c.mu.Unlock()
			if seen {
				continue
			}
			if werr := c.watch(ctx, gvk, gv.WithResource(r.Name)); werr != nil {
				errs = append(errs, werr)
			}
		}
	}
	return errors.Join(append(errs, err)...)
}

func (c *Collector) watch(ctx context.Context, gvk schema.GroupVersionKind, gvr schema.GroupVersionResource) error {
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(gvk)
	inf, err := c.cache.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
	if err != nil {
		return fmt.Errorf("watching %s: %w", gvr, err)
	}
	reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { c.observe(gvk, o) },
		UpdateFunc: func(_, o any) { c.observe(gvk, o) },
		DeleteFunc: func(o any) { c.observeDeleted(gvk, o) },
	})
	if err != nil {
		return fmt.Errorf("watching %s: %w", gvr, err)
	}
	c.mu.Lock()
	c.watched[gvk] = gvr
	c.synced = append(c.synced, reg.HasSynced)
	c.mu.Unlock()
	return nil
}

func refOf(gvk schema.GroupVersionKind, m metav1.Object) objectRef {
	return objectRef{GVK: gvk, Namespace: m.GetNamespace(), Name: m.GetName(), UID: m.GetUID()}
}

// observe records an added or updated object and queues what it may affect:
// itself when an owner is not known to the graph or when it is being deleted
// with a finalizer the collector serves, and former owners it stopped
// referencing (one may be waiting for it).
func (c *Collector) observe(gvk schema.GroupVersionKind, o any) {
	m, err := meta.Accessor(o)
	if err != nil {
		return
	}
	ref := refOf(gvk, m)
	old := c.graph.upsert(ref, m)
	for _, o := range m.GetOwnerReferences() {
		if !c.graph.has(o.UID) {
			c.queue.Add(ref)
			break
		}
	}
	if m.GetDeletionTimestamp() != nil && (hasFinalizer(m, finalizerForeground) || hasFinalizer(m, finalizerOrphan)) {
		c.queue.Add(ref)
	}
	if old != nil {
		now := map[types.UID]bool{}
		for _, o := range m.GetOwnerReferences() {
			now[o.UID] = true
		}
		for _, o := range old.owners {
			if !now[o.UID] {
				c.enqueueUID(o.UID)
			}
		}
		if m.GetDeletionTimestamp() != nil && !old.deleting {
			// A dependent starting to go may be the last one a foreground owner waits for
			for _, o := range m.GetOwnerReferences() {
				c.enqueueUID(o.UID)
			}
		}
	}
}

// observeDeleted forgets an object and queues its dependents (their owner is
// gone) and its owners (one may be waiting for it in foreground deletion).
func (c *Collector) observeDeleted(gvk schema.GroupVersionKind, o any) {
	if t, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	m, err := meta.Accessor(o)
	if err != nil {
		return
	}
	n := c.graph.remove(m.GetUID())
	for _, d := range c.graph.dependentsOf(m.GetUID()) {
		c.queue.Add(d.ref)
	}
	if n != nil {
		for _, o := range n.owners {
			c.enqueueUID(o.UID)
		}
	}
}

func (c *Collector) enqueueUID(uid types.UID) {
	c.graph.mu.RLock()
	n := c.graph.nodes[uid]
	c.graph.mu.RUnlock()
	if n != nil {
		c.queue.Add(n.ref)
	}
}

func (c *Collector) processNext(ctx context.Context) bool {
	ref, shutdown := c.queue.Get()
	if shutdown {
		return false
	}
	defer c.queue.Done(ref)
	if err := c.process(ctx, ref); err != nil {
		ctrl.LoggerFrom(ctx).V(2).Info("retrying", "object", klog.KRef(ref.Namespace, ref.Name), "kind", ref.GVK.Kind, "err", err.Error())
		c.queue.AddRateLimited(ref)
		return true
	}
	c.queue.Forget(ref)
	return true
}

// resource returns the client for the resource of gvk in namespace.
func (c *Collector) resource(gvk schema.GroupVersionKind, namespace string) (metadata.ResourceInterface, bool, error) {
	c.mu.Lock()
	gvr, ok := c.watched[gvk]
	c.mu.Unlock()
	namespaced := namespace != ""
	if !ok {
		m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return nil, false, err
		}
		gvr = m.Resource
		namespaced = m.Scope.Name() == meta.RESTScopeNameNamespace
	}
	if namespaced {
		return c.metadata.Resource(gvr).Namespace(namespace), true, nil
	}
	return c.metadata.Resource(gvr), false, nil
}

// process brings one object in line with its owners, or carries on its own
// foreground or orphan deletion.
func (c *Collector) process(ctx context.Context, ref objectRef) error {
	client, _, err := c.resource(ref.GVK, ref.Namespace)
	if err != nil {
		return err
	}
	live, err := client.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if live.UID != ref.UID {
		return nil // a new object of the same name
	}
	if live.DeletionTimestamp != nil {
		switch {
		case hasFinalizer(live, finalizerOrphan):
			return c.orphanDependents(ctx, live, client)
		case hasFinalizer(live, finalizerForeground):
			return c.deleteDependentsFirst(ctx, ref, live, client)
		}
		return nil
	}
	if len(live.OwnerReferences) == 0 {
		return nil
	}
	states := map[types.UID]ownerState{}
	for _, o := range live.OwnerReferences {
		s, err := c.ownerState(ctx, live.Namespace, o)
		if err != nil {
			return fmt.Errorf("looking up owner %s %s: %w", o.Kind, o.Name, err)
		}
		states[o.UID] = s
	}
	act := decideDependent(live, states, c.graph.hasDependents(live.UID))
	log := ctrl.LoggerFrom(ctx)
	switch act.kind {
	case removeRefs:
		log.V(2).Info("removing references to gone owners", "object", klog.KObj(live), "kind", ref.GVK.Kind, "owners", act.refs)
		return c.patchMeta(ctx, client, live, map[string]any{"ownerReferences": withoutRefs(live.OwnerReferences, act.refs...)})
	case deleteObject:
		log.V(2).Info("deleting object whose owners are gone", "object", klog.KObj(live), "kind", ref.GVK.Kind, "propagation", act.policy)
		uid := live.UID
		err := client.Delete(ctx, live.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}, PropagationPolicy: &act.policy})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	}
	return nil
}

// ownerState looks an owner up live (the graph may lag).
func (c *Collector) ownerState(ctx context.Context, namespace string, o metav1.OwnerReference) (ownerState, error) {
	gv, err := schema.ParseGroupVersion(o.APIVersion)
	if err != nil {
		return ownerDangling, nil
	}
	m, err := c.mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: o.Kind}, gv.Version)
	if err != nil {
		return 0, err
	}
	var ri metadata.ResourceInterface
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if namespace == "" {
			// A cluster-scoped object cannot have a namespaced owner.
			return ownerDangling, nil
		}
		ri = c.metadata.Resource(m.Resource).Namespace(namespace)
	} else {
		ri = c.metadata.Resource(m.Resource)
	}
	owner, err := ri.Get(ctx, o.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return ownerDangling, nil
	}
	if err != nil {
		return 0, err
	}
	if owner.UID != o.UID {
		return ownerDangling, nil
	}
	if owner.DeletionTimestamp != nil && hasFinalizer(owner, finalizerForeground) {
		return ownerWaiting, nil
	}
	return ownerSolid, nil
}

// deleteDependentsFirst serves the foregroundDeletion finalizer: it queues
// every dependent (each sees its owner waiting and goes), and once no
// dependent with blockOwnerDeletion remains it removes the finalizer.
func (c *Collector) deleteDependentsFirst(ctx context.Context, ref objectRef, owner *metav1.PartialObjectMetadata, client metadata.ResourceInterface) error {
	blocking := 0
	for _, d := range c.graph.dependentsOf(owner.UID) {
		if blocks(d.owners, owner.UID) {
			blocking++
		}
		if !d.deleting {
			c.queue.Add(d.ref)
		}
	}
	if blocking > 0 {
		return nil // the dependents' deletions queue the owner again
	}
	ctrl.LoggerFrom(ctx).V(2).Info("dependents gone, finishing foreground deletion", "object", klog.KObj(owner), "kind", ref.GVK.Kind)
	return c.patchMeta(ctx, client, owner, map[string]any{"finalizers": withoutFinalizer(owner.Finalizers, finalizerForeground)})
}

// orphanDependents serves the orphan finalizer: it removes the owner's
// references from every dependent, then the finalizer.
func (c *Collector) orphanDependents(ctx context.Context, owner *metav1.PartialObjectMetadata, client metadata.ResourceInterface) error {
	for _, d := range c.graph.dependentsOf(owner.UID) {
		dc, _, err := c.resource(d.ref.GVK, d.ref.Namespace)
		if err != nil {
			return err
		}
		live, err := dc.Get(ctx, d.ref.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if live.UID != d.ref.UID {
			continue
		}
		if err := c.patchMeta(ctx, dc, live, map[string]any{"ownerReferences": withoutRefs(live.OwnerReferences, owner.UID)}); err != nil {
			return fmt.Errorf("orphaning %s: %w", live.Name, err)
		}
	}
	ctrl.LoggerFrom(ctx).V(2).Info("dependents orphaned", "object", klog.KObj(owner))
	return c.patchMeta(ctx, client, owner, map[string]any{"finalizers": withoutFinalizer(owner.Finalizers, finalizerOrphan)})
}

// patchMeta merge-patches metadata fields, guarded by uid and
// resourceVersion so a concurrent change is never overwritten.
func (c *Collector) patchMeta(ctx context.Context, client metadata.ResourceInterface, obj *metav1.PartialObjectMetadata, fields map[string]any) error {
	fields["uid"] = obj.UID
	fields["resourceVersion"] = obj.ResourceVersion
	body, err := json.Marshal(map[string]any{"metadata": fields})
	if err != nil {
		return err
	}
	_, err = client.Patch(ctx, obj.Name, types.MergePatchType, body, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
