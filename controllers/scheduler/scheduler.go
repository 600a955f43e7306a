package scheduler

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	volumehelpers "k8s.io/component-helpers/storage/volume"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Name is the scheduler name pods ask for in spec.schedulerName, and the
// reporting controller of its events, as upstream's.
const Name = corev1.DefaultSchedulerName

// flushInterval is how often pods parked for too long are looked at.
const flushInterval = 30 * time.Second

// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods/binding,verbs=create
// +kubebuilder:rbac:groups="",resources=pods/status,verbs=patch;update
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=persistentvolumes,verbs=get;list;watch;update
// +kubebuilder:rbac:groups=storage.k8s.io,resources=storageclasses,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch;update

// Scheduler watches pods and nodes, places pending pods and binds them.
type Scheduler struct {
	client    client.Client
	informers ctrlcache.Cache
	recorder  events.EventRecorder
	cache     *Cache
	queue     *Queue
	rand      *rand.Rand
	log       logr.Logger
}

// New returns a scheduler that reads through informers (a controller-runtime
// cache), writes through c and reports events through recorder. Start runs it.
func New(c client.Client, informers ctrlcache.Cache, recorder events.EventRecorder) *Scheduler {
	return &Scheduler{
		client:    c,
		informers: informers,
		recorder:  recorder,
		cache:     NewCache(),
		queue:     NewQueue(),
		rand:      rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0)),
		log:       ctrl.Log.WithName("scheduler"),
	}
}

// Client rate limits for bindings and status writes when the manager's
// configuration sets none: upstream kube-scheduler's defaults. client-go's own
// default (5 per second) would pace a burst of 50 pods over ten seconds.
const (
	defaultQPS   = 50
	defaultBurst = 100
)

// SetupWithManager adds the scheduler to mgr. It reads through the manager's
// cache and writes through a client of its own, rate-limited like
// kube-scheduler's.
func SetupWithManager(mgr ctrl.Manager) error {
	cfg := rest.CopyConfig(mgr.GetConfig())
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = defaultQPS, defaultBurst
	}
	c, err := client.New(cfg, client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return fmt.Errorf("building the scheduler's client: %w", err)
	}
	return mgr.Add(New(c, mgr.GetCache(), mgr.GetEventRecorder(Name)))
}

// NeedLeaderElection makes only the elected copy schedule.
func (s *Scheduler) NeedLeaderElection() bool { return true }

// Start feeds the cache and queue from informers, then schedules pods one at
// a time until ctx ends; bindings run in the background.
func (s *Scheduler) Start(ctx context.Context) error {
	nodeInformer, err := s.informers.GetInformer(ctx, &corev1.Node{})
	if err != nil {
		return fmt.Errorf("getting the node informer: %w", err)
	}
	podInformer, err := s.informers.GetInformer(ctx, &corev1.Pod{})
	if err != nil {
		return fmt.Errorf("getting the pod informer: %w", err)
	}
	nodeReg, err := nodeInformer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.nodeChanged(nil, obj) },
		UpdateFunc: s.nodeChanged,
		DeleteFunc: s.nodeDeleted,
	})
	if err != nil {
		return fmt.Errorf("watching nodes: %w", err)
	}
	podReg, err := podInformer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.podChanged(nil, obj) },
		UpdateFunc: s.podChanged,
		DeleteFunc: s.podDeleted,
	})
	if err != nil {
		return fmt.Errorf("watching pods: %w", err)
	}
	defer func() {
		_ = nodeInformer.RemoveEventHandler(nodeReg)
		_ = podInformer.RemoveEventHandler(podReg)
	}()
	synced := []toolscache.InformerSynced{nodeReg.HasSynced, podReg.HasSynced}
	// A claim, volume or class appearing or changing may let a pod waiting on
	// its volumes fit.
	for _, obj := range []client.Object{&corev1.PersistentVolumeClaim{}, &corev1.PersistentVolume{}, &storagev1.StorageClass{}} {
		inf, err := s.informers.GetInformer(ctx, obj)
		if err != nil {
			return fmt.Errorf("getting the %T informer: %w", obj, err)
		}
		move := func(any) { s.queue.MoveAllToActive() }
		reg, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc: move, UpdateFunc: func(_, o any) { move(o) }, DeleteFunc: move,
		})
		if err != nil {
			return fmt.Errorf("watching %T: %w", obj, err)
		}
		defer func() { _ = inf.RemoveEventHandler(reg) }()
		synced = append(synced, reg.HasSynced)
	}
	if !toolscache.WaitForCacheSync(ctx.Done(), synced...) {
		return ctx.Err()
	}
	go func() {
		t := time.NewTicker(flushInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.queue.FlushStale()
			}
		}
	}()
	s.log.Info("scheduling pods", "schedulerName", Name)
	for {
		pod, cycle, ok := s.queue.Pop(ctx)
		if !ok {
			return nil
		}
		s.scheduleOne(ctx, pod, cycle)
	}
}

// responsible says whether pod waits for this scheduler.
func responsible(pod *corev1.Pod) bool {
	return pod.Spec.NodeName == "" &&
		(pod.Spec.SchedulerName == "" || pod.Spec.SchedulerName == Name) &&
		pod.DeletionTimestamp == nil &&
		len(pod.Spec.SchedulingGates) == 0 &&
		pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

func (s *Scheduler) podChanged(oldObj, newObj any) {
	pod, ok := newObj.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.Spec.NodeName == "" {
		if responsible(pod) && !s.cache.IsAssumed(pod) {
			s.queue.Add(pod)
		} else {
			s.queue.Delete(pod)
		}
		return
	}
	s.queue.Delete(pod)
	old, _ := oldObj.(*corev1.Pod)
	s.cache.SetPod(pod)
	// A pod appearing on a node may satisfy a parked pod's affinity; one
	// finishing frees room.
	if old == nil || old.Spec.NodeName == "" || counts(old) != counts(pod) || !reflect.DeepEqual(old.Labels, pod.Labels) {
		s.queue.MoveAllToActive()
	}
}

func (s *Scheduler) podDeleted(obj any) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	s.queue.Delete(pod)
	s.cache.RemovePod(pod)
	if pod.Spec.NodeName != "" {
		s.queue.MoveAllToActive()
	}
}

func (s *Scheduler) nodeChanged(oldObj, newObj any) {
	node, ok := newObj.(*corev1.Node)
	if !ok {
		return
	}
	s.cache.SetNode(node)
	if old, ok := oldObj.(*corev1.Node); !ok || schedulingRelevantChange(old, node) {
		s.queue.MoveAllToActive()
	}
}

// schedulingRelevantChange ignores heartbeats: only what the filters read
// makes parked pods worth another try.
func schedulingRelevantChange(old, node *corev1.Node) bool {
	return nodeReady(old) != nodeReady(node) ||
		old.Spec.Unschedulable != node.Spec.Unschedulable ||
		!reflect.DeepEqual(old.Spec.Taints, node.Spec.Taints) ||
		!reflect.DeepEqual(old.Labels, node.Labels) ||
		!reflect.DeepEqual(old.Status.Allocatable, node.Status.Allocatable)
}

func (s *Scheduler) nodeDeleted(obj any) {
	if tomb, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	if node, ok := obj.(*corev1.Node); ok {
		s.cache.RemoveNode(node.Name)
	}
}

// scheduleOne makes one attempt at pod: pick and assume a node, then bind in
// the background; or record why nothing fits and park the pod.
func (s *Scheduler) scheduleOne(ctx context.Context, pod *corev1.Pod, cycle int64) {
	log := s.log.WithValues("pod", klog.KObj(pod))
	vols, err := s.podVolumes(ctx, pod)
	if err != nil {
		log.Error(err, "reading the pod's volumes")
		s.queue.Requeue(pod)
		return
	}
	node, numNodes, reasons := s.cache.ScheduleAndAssume(pod, vols, s.rand.IntN)
	if node == "" {
		preFilter := ""
		if vols != nil {
			preFilter = vols.PreFilter
		}
		msg := fitErrorMessage(numNodes, preFilter, reasons)
		log.V(2).Info("unschedulable", "message", msg)
		s.recorder.Eventf(pod, nil, corev1.EventTypeWarning, "FailedScheduling", "Scheduling", "%s", msg)
		if err := s.markUnschedulable(ctx, pod, msg); err != nil && !apierrors.IsNotFound(err) {
			log.Error(err, "recording the PodScheduled condition")
		}
		s.queue.Unschedulable(pod, cycle)
		return
	}
	s.queue.Done(pod)
	go s.bind(ctx, pod, node, vols)
}

// bind posts the Binding; on failure it forgets the assumed placement and
// requeues the pod unless it is gone or already bound.
func (s *Scheduler) bind(ctx context.Context, pod *corev1.Pod, node string, vols *PodVolumes) {
	log := s.log.WithValues("pod", klog.KObj(pod), "node", node)
	if err := s.bindVolumes(ctx, node, vols); err != nil {
		s.cache.Forget(pod)
		log.Error(err, "binding volumes")
		s.recorder.Eventf(pod, nil, corev1.EventTypeWarning, "FailedScheduling", "Scheduling", "Binding volumes: %v", err)
		s.queue.Requeue(pod)
		return
	}
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}
	err := s.client.SubResource("binding").Create(ctx, pod, binding)
	if err == nil {
		log.V(2).Info("bound")
		s.recorder.Eventf(pod, nil, corev1.EventTypeNormal, "Scheduled", "Binding",
			"Successfully assigned %v/%v to %v", pod.Namespace, pod.Name, node)
		return
	}
	s.cache.Forget(pod)
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) || ctx.Err() != nil {
		// Deleted, or bound by someone else: the informer will tell.
		log.V(2).Info("binding not applied", "err", err)
		return
	}
	log.Error(err, "binding")
	s.recorder.Eventf(pod, nil, corev1.EventTypeWarning, "FailedScheduling", "Scheduling", "Binding rejected: %v", err)
	s.queue.Requeue(pod)
}

// markUnschedulable sets PodScheduled=False with reason Unschedulable and the
// fit message, unless the pod already says exactly that.
func (s *Scheduler) markUnschedulable(ctx context.Context, pod *corev1.Pod, msg string) error {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse &&
			c.Reason == corev1.PodReasonUnschedulable && c.Message == msg {
			return nil
		}
	}
	updated := pod.DeepCopy()
	cond := corev1.PodCondition{
		Type:               corev1.PodScheduled,
		Status:             corev1.ConditionFalse,
		Reason:             corev1.PodReasonUnschedulable,
		Message:            msg,
		LastTransitionTime: metav1.Now(),
	}
	replaced := false
	for i, c := range updated.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			if c.Status == cond.Status {
				cond.LastTransitionTime = c.LastTransitionTime
			}
			updated.Status.Conditions[i] = cond
			replaced = true
		}
	}
	if !replaced {
		updated.Status.Conditions = append(updated.Status.Conditions, cond)
	}
	return s.client.Status().Patch(ctx, updated, client.StrategicMergeFrom(pod))
}

// podVolumes gathers what the volume check needs about pod's claims; nil for
// pods without claims.
func (s *Scheduler) podVolumes(ctx context.Context, pod *corev1.Pod) (*PodVolumes, error) {
	var v *PodVolumes
	var allVolumes []*corev1.PersistentVolume
	for _, vol := range pod.Spec.Volumes {
		name := ""
		switch {
		case vol.PersistentVolumeClaim != nil:
			name = vol.PersistentVolumeClaim.ClaimName
		case vol.Ephemeral != nil:
			name = pod.Name + "-" + vol.Name
		default:
			continue
		}
		if v == nil {
			v = &PodVolumes{}
		}
		var claim corev1.PersistentVolumeClaim
		if err := s.informers.Get(ctx, types.NamespacedName{Namespace: pod.Namespace, Name: name}, &claim); err != nil {
			if apierrors.IsNotFound(err) {
				v.PreFilter = fmt.Sprintf("persistentvolumeclaim %q not found", name)
				return v, nil
			}
			return nil, err
		}
		if claim.Spec.VolumeName != "" {
			var pv corev1.PersistentVolume
			err := s.informers.Get(ctx, types.NamespacedName{Name: claim.Spec.VolumeName}, &pv)
			switch {
			case apierrors.IsNotFound(err):
				v.MissingVolume = true
			case err != nil:
				return nil, err
			default:
				v.Bound = append(v.Bound, &pv)
			}
			continue
		}
		var sc storagev1.StorageClass
		class := volumehelpers.GetPersistentVolumeClaimClass(&claim)
		err := s.informers.Get(ctx, types.NamespacedName{Name: class}, &sc)
		if class == "" || apierrors.IsNotFound(err) ||
			(err == nil && (sc.VolumeBindingMode == nil || *sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer)) {
			v.PreFilter = PreFilterUnboundImmediate
			return v, nil
		}
		if err != nil {
			return nil, err
		}
		if allVolumes == nil {
			var list corev1.PersistentVolumeList
			if err := s.informers.List(ctx, &list); err != nil {
				return nil, err
			}
			allVolumes = make([]*corev1.PersistentVolume, len(list.Items))
			for i := range list.Items {
				allVolumes[i] = &list.Items[i]
			}
		}
		v.Delayed = append(v.Delayed, NewDelayedClaim(&claim, sc.Provisioner, allVolumes))
	}
	return v, nil
}

// bindVolumes carries out the volume plan for node before the pod is bound,
// as upstream's VolumeBinding PreBind does: an existing volume is pre-bound
// to its claim (the persistentvolume controller completes the binding), and
// a claim to be provisioned is annotated with the chosen node.
func (s *Scheduler) bindVolumes(ctx context.Context, node string, vols *PodVolumes) error {
	if vols == nil || len(vols.Delayed) == 0 {
		return nil
	}
	n := s.cache.NodeFor(node)
	if n == nil {
		return fmt.Errorf("node %s is gone", node)
	}
	plan, ok := vols.Plan(n)
	if !ok {
		return fmt.Errorf("no volumes for the pod's claims on node %s any more", node)
	}
	for claim, pv := range plan {
		if pv != nil {
			bound, dirty, err := volumehelpers.GetBindVolumeToClaim(pv, claim)
			if err != nil {
				return err
			}
			if dirty {
				if err := s.client.Update(ctx, bound); err != nil {
					return fmt.Errorf("pre-binding volume %s to claim %s/%s: %w", pv.Name, claim.Namespace, claim.Name, err)
				}
			}
			continue
		}
		if claim.Annotations[volumehelpers.AnnSelectedNode] == node {
			continue
		}
		updated := claim.DeepCopy()
		if updated.Annotations == nil {
			updated.Annotations = map[string]string{}
		}
		updated.Annotations[volumehelpers.AnnSelectedNode] = node
		if err := s.client.Patch(ctx, updated, client.MergeFrom(claim)); err != nil {
			return fmt.Errorf("selecting node %s for claim %s/%s: %w", node, claim.Namespace, claim.Name, err)
		}
	}
	return nil
}
