package podworker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
	"github.com/kubeseed/kubeseed/kubelet/volumes"
)

// Config wires the workers to the API and the runtime.
type Config struct {
	Client   kubernetes.Interface
	Runtime  kruntime.Runtime
	Recorder record.EventRecorder
	// RuntimeName prefixes container IDs in status ("containerd").
	RuntimeName string
	// NodeIP is reported as the pods' hostIP.
	NodeIP string
	// Resync is how often each worker syncs without a trigger (default 2 s).
	// A back-off ending triggers a sync of its own, so a runtime that
	// reports every container change (Notifier) may resync seldom.
	Resync time.Duration
	// Backoff spaces out restarts (default NewBackoff()).
	Backoff *Backoff
	// PullBackoff spaces out failed image pulls (default NewPullBackoff()).
	PullBackoff *Backoff
	// Allocatable is what pods may request on the node (nil: no admission
	// check).
	Allocatable corev1.ResourceList
	// Volumes materializes pod volumes (nil: volumes are ignored, as the
	// simulated runtime does).
	Volumes *volumes.Manager
	// Services lists the cluster's Services (all namespaces) for the
	// service environment variables; it should have synced before the
	// first pod starts, or that pod misses the variables (nil: no service
	// variables at all).
	Services corelisters.ServiceLister
}

// Workers keeps one worker per pod.
type Workers struct {
	cfg Config
	ctx context.Context

	mu      sync.Mutex
	workers map[types.UID]*worker
	wg      sync.WaitGroup
	// admitMu serializes admission so two pods cannot both take the last
	// room on the node.
	admitMu sync.Mutex
}

type worker struct {
	kick chan struct{}

	mu   sync.Mutex
	pod  *corev1.Pod
	gone bool
	// lastStatus is what this worker last wrote, to skip no-op updates.
	lastStatus *corev1.PodStatus
	// waiting holds why containers wait, between syncs.
	waiting map[string]*corev1.ContainerStateWaiting
	// backoffEvent remembers when a BackOff event was last sent per
	// container, so a crash loop gives one event per back-off period.
	backoffEvent map[string]time.Time
	// probes run per container name for its running attempt.
	probes map[string]*probes
	// sandboxStopped is set once a finished pod's network is released.
	sandboxStopped bool
	// admitted is set once the pod passed admission (or was running
	// before this agent started).
	admitted bool
	// wake syncs the worker when a back-off ends, at wakeAt.
	wake   *time.Timer
	wakeAt time.Time
}

// New returns Workers that run until ctx ends.
func New(ctx context.Context, cfg Config) *Workers {
	if cfg.Resync == 0 {
		cfg.Resync = 2 * time.Second
	}
	if cfg.Backoff == nil {
		cfg.Backoff = NewBackoff()
	}
	if cfg.PullBackoff == nil {
		cfg.PullBackoff = NewPullBackoff()
	}
	return &Workers{cfg: cfg, ctx: ctx, workers: map[types.UID]*worker{}}
}

// Update hands the latest version of a pod to its worker, starting one if
// needed.
func (ws *Workers) Update(pod *corev1.Pod) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	w := ws.workers[pod.UID]
	if w == nil {
		if ws.ctx.Err() != nil {
			return
		}
		w = &worker{kick: make(chan struct{}, 1), waiting: map[string]*corev1.ContainerStateWaiting{}, backoffEvent: map[string]time.Time{}, probes: map[string]*probes{}}
		ws.workers[pod.UID] = w
		ws.wg.Add(1)
		go ws.run(pod.UID, w)
	}
	w.mu.Lock()
	w.pod = pod
	w.mu.Unlock()
	w.trigger()
}

// Gone tells the worker of a pod that its API object no longer exists (or
// tears down an orphan found in the runtime when no worker has it).
func (ws *Workers) Gone(uid types.UID, pod *corev1.Pod) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	w := ws.workers[uid]
	if w == nil {
		if ws.ctx.Err() != nil {
			return
		}
		if pod == nil {
			pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: uid, Name: string(uid)}}
		}
		w = &worker{kick: make(chan struct{}, 1), pod: pod, waiting: map[string]*corev1.ContainerStateWaiting{}, backoffEvent: map[string]time.Time{}, probes: map[string]*probes{}}
		ws.workers[uid] = w
		ws.wg.Add(1)
		go ws.run(uid, w)
	}
	w.mu.Lock()
	w.gone = true
	w.mu.Unlock()
	w.trigger()
}

// Notify makes a pod's worker sync now (a container exited).
func (ws *Workers) Notify(uid types.UID) {
	ws.mu.Lock()
	w := ws.workers[uid]
	ws.mu.Unlock()
	if w != nil {
		w.trigger()
	}
}

// Known reports whether a worker exists for uid.
func (ws *Workers) Known(uid types.UID) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.workers[uid] != nil
}

// Wait blocks until every worker returned (after ctx ended).
func (ws *Workers) Wait() { ws.wg.Wait() }

func (w *worker) trigger() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// wakeIn makes the worker sync after d (when a back-off ends) whatever its
// resync period; the earliest pending wake-up wins.
func (w *worker) wakeIn(d time.Duration) {
	at := time.Now().Add(d)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.wake != nil {
		if !w.wakeAt.After(at) {
			return
		}
		w.wake.Stop()
	}
	w.wakeAt = at
	w.wake = time.AfterFunc(d, func() {
		w.mu.Lock()
		w.wake = nil
		w.mu.Unlock()
		w.trigger()
	})
}

func (w *worker) stopWake() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.wake != nil {
		w.wake.Stop()
		w.wake = nil
	}
}

func (ws *Workers) run(uid types.UID, w *worker) {
	defer ws.wg.Done()
	defer w.stopProbes()
	defer w.stopWake()
	ticker := time.NewTicker(ws.cfg.Resync)
	defer ticker.Stop()
	for {
		select {
		case <-ws.ctx.Done():
			return
		case <-w.kick:
		case <-ticker.C:
		}
		w.mu.Lock()
		pod, gone := w.pod, w.gone
		w.mu.Unlock()
		done, err := ws.sync(ws.ctx, w, pod, gone)
		if err != nil && ws.ctx.Err() == nil {
			klog.FromContext(ws.ctx).Error(err, "Syncing pod", "pod", klog.KObj(pod), "podUID", uid)
		}
		if done {
			ws.mu.Lock()
			delete(ws.workers, uid)
			ws.mu.Unlock()
			ws.cfg.Backoff.Forget(string(uid))
			ws.cfg.PullBackoff.Forget(string(uid))
			return
		}
	}
}

// sync does one round of work for a pod and reports whether the worker is
// finished (the pod is gone from node and API).
func (ws *Workers) sync(ctx context.Context, w *worker, pod *corev1.Pod, gone bool) (bool, error) {
	if gone || pod.DeletionTimestamp != nil {
		return ws.terminate(ctx, w, pod, gone)
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		// Finished pods keep their exited containers (for logs) until
		// deleted, but give their address back at once, as upstream stops
		// the sandbox: Jobs would otherwise drain the node's range.
		if !w.sandboxStopped {
			w.stopProbes()
			if err := ws.cfg.Runtime.StopSandbox(ctx, pod.UID); err != nil {
				return false, fmt.Errorf("stopping sandbox of finished pod: %w", err)
			}
			w.sandboxStopped = true
		}
		return false, nil
	}
	if !w.admitted {
		if ok, err := ws.admit(ctx, w, pod); !ok || err != nil {
			return false, err
		}
	}
	rt := ws.cfg.Runtime
	obs := Observation{RuntimeName: ws.cfg.RuntimeName, HostIP: ws.cfg.NodeIP, Waiting: w.waiting}
	sb, err := rt.EnsureSandbox(ctx, pod)
	if err != nil {
		ws.cfg.Recorder.Eventf(pod, corev1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
		obs.Now = time.Now()
		return false, errors.Join(fmt.Errorf("sandbox: %w", err), ws.writeStatus(ctx, w, pod, obs))
	}
	obs.Sandbox = sb
	var volumePaths map[string]string
	if ws.cfg.Volumes != nil {
		if volumePaths, err = ws.cfg.Volumes.Setup(ctx, pod); err != nil {
			ws.cfg.Recorder.Eventf(pod, corev1.EventTypeWarning, "FailedMount", "MountVolume.SetUp failed: %v", err)
			obs.Now = time.Now()
			return false, errors.Join(err, ws.writeStatus(ctx, w, pod, obs))
		}
	}
	ctrs, err := rt.Containers(ctx, pod.UID)
	if err != nil {
		return false, fmt.Errorf("listing containers: %w", err)
	}
	latest, _ := Attempts(ctrs)
	started := false
	now := time.Now()
	// handle applies Decide to one container and returns whether it runs.
	handle := func(c *corev1.Container, policy corev1.RestartPolicy, target string) {
		l := latest[c.Name]
		key := string(pod.UID) + "/" + c.Name
		var inBackoff bool
		var delay time.Duration
		if l != nil && l.State == kruntime.StateExited {
			inBackoff, delay = ws.cfg.Backoff.InBackoff(key, l.FinishedAt, now)
		}
		switch Decide(policy, l, inBackoff) {
		case Keep:
			delete(w.waiting, c.Name)
		case Wait:
			w.wakeIn(l.FinishedAt.Add(delay).Sub(now))
			msg := fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", delay, c.Name, pod.Name, pod.Namespace, pod.UID)
			w.waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: ReasonCrashLoopBackOff, Message: msg}
			if last, ok := w.backoffEvent[c.Name]; !ok || now.Sub(last) >= delay {
				w.backoffEvent[c.Name] = now
				ws.cfg.Recorder.Eventf(pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s", c.Name, podDesc(pod))
			}
		case Start:
			attempt := 0
			if l != nil {
				attempt = l.Attempt + 1
			}
			if ws.start(ctx, w, pod, c, sb, attempt, volumePaths, target) {
				started = true
			}
		}
	}
	// Init containers run one at a time, in order; app containers start
	// once all of them are done (sidecars: running).
	initDone := true
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		l := latest[c.Name]
		if IsSidecar(c) {
			handle(c, corev1.RestartPolicyAlways, "")
			if l == nil || l.State != kruntime.StateRunning {
				initDone = false
				break
			}
			continue
		}
		if l != nil && l.State == kruntime.StateExited && l.ExitCode == 0 {
			continue
		}
		initDone = false
		policy := corev1.RestartPolicyOnFailure
		if pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
			policy = corev1.RestartPolicyNever
		}
		handle(c, policy, "")
		break
	}
	if initDone {
		for i := range pod.Spec.Containers {
			handle(&pod.Spec.Containers[i], pod.Spec.RestartPolicy, "")
		}
	}
	// Ephemeral containers (kubectl debug) start once each, whether or not
	// the pod has initialized, and are never restarted, as upstream's.
	for i := range pod.Spec.EphemeralContainers {
		e := &pod.Spec.EphemeralContainers[i]
		handle(Ephemeral(e), corev1.RestartPolicyNever, e.TargetContainerName)
	}
	if started {
		if ctrs, err = rt.Containers(ctx, pod.UID); err != nil {
			return false, fmt.Errorf("listing containers: %w", err)
		}
	}
	obs.Containers = ctrs
	obs.Probes = ws.syncProbes(ctx, w, pod, sb, ctrs)
	obs.Now = time.Now()
	return false, ws.writeStatus(ctx, w, pod, obs)
}

// syncProbes keeps one set of probes per running container attempt and
// returns their results by container ID.
func (ws *Workers) syncProbes(ctx context.Context, w *worker, pod *corev1.Pod, sb *kruntime.Sandbox, ctrs []kruntime.Container) map[string]ProbeResult {
	latest, _ := Attempts(ctrs)
	results := map[string]ProbeResult{}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		l := latest[c.Name]
		p := w.probes[c.Name]
		if l == nil || l.State != kruntime.StateRunning || (c.StartupProbe == nil && c.LivenessProbe == nil && c.ReadinessProbe == nil) {
			if p != nil {
				go p.stop()
				delete(w.probes, c.Name)
			}
			continue
		}
		if p == nil || p.id != l.ID {
			if p != nil {
				go p.stop()
			}
			name := c.Name
			p = startProbes(ctx, ws.cfg.Runtime, pod, c, l.ID, sb.IP, w.trigger,
				func(kind, msg string) {
					ws.cfg.Recorder.Eventf(pod, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", kind, msg)
				},
				func(kind string) {
					ws.cfg.Recorder.Eventf(pod, corev1.EventTypeNormal, "Killing", "Container %s failed %s probe, will be restarted", name, kind)
					grace := 30 * time.Second
					if pod.Spec.TerminationGracePeriodSeconds != nil {
						grace = time.Duration(*pod.Spec.TerminationGracePeriodSeconds) * time.Second
					}
					if err := ws.cfg.Runtime.StopContainer(ctx, pod.UID, name, grace); err != nil {
						klog.FromContext(ctx).Error(err, "Stopping unhealthy container", "pod", klog.KObj(pod), "container", name)
					}
				})
			w.probes[c.Name] = p
		}
		results[l.ID] = ProbeResult{Ready: p.ready.Load(), Started: p.started.Load()}
	}
	return results
}

func (w *worker) stopProbes() {
	for name, p := range w.probes {
		p.stop()
		delete(w.probes, name)
	}
}

// admit checks that the pod fits beside the admitted pods; a pod already
// started (by an earlier run of the agent) is admitted as is. A rejected pod
// is marked Failed with upstream's reason.
func (ws *Workers) admit(ctx context.Context, w *worker, pod *corev1.Pod) (bool, error) {
	ws.admitMu.Lock()
	defer ws.admitMu.Unlock()
	if pod.Status.StartTime != nil {
		w.mu.Lock()
		w.admitted = true
		w.mu.Unlock()
		return true, nil
	}
	var others []*corev1.Pod
	ws.mu.Lock()
	for uid, o := range ws.workers {
		if uid == pod.UID || o == w {
			continue
		}
		o.mu.Lock()
		op, ok := o.pod, o.admitted && !o.gone
		o.mu.Unlock()
		if ok && op.Status.Phase != corev1.PodSucceeded && op.Status.Phase != corev1.PodFailed {
			others = append(others, op)
		}
	}
	ws.mu.Unlock()
	ok, reason, msg := Admit(pod, others, ws.cfg.Allocatable)
	if ok {
		w.mu.Lock()
		w.admitted = true
		w.mu.Unlock()
		return true, nil
	}
	ws.cfg.Recorder.Eventf(pod, corev1.EventTypeWarning, reason, "%s", msg)
	updated := pod.DeepCopy()
	now := metav1.Now()
	updated.Status.Phase, updated.Status.Reason, updated.Status.Message = corev1.PodFailed, reason, "Pod was rejected: "+msg
	updated.Status.StartTime = &now
	_, err := ws.cfg.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return false, fmt.Errorf("rejecting pod: %w", err)
	}
	return false, nil
}

// containerEnv is the environment container c of pod starts with: its own
// variables and the service ones.
func (ws *Workers) containerEnv(ctx context.Context, pod *corev1.Pod, c *corev1.Container, podIP string) ([]string, error) {
	var services map[string]string
	if ws.cfg.Services != nil {
		list, err := ws.cfg.Services.List(labels.Everything())
		if err != nil {
			return nil, fmt.Errorf("listing services for the environment: %w", err)
		}
		services = ServiceEnv(list, pod.Namespace, ServiceLinks(pod))
	}
	return Env(ctx, ws.cfg.Client, pod, c, podIP, ws.cfg.NodeIP, services)
}

// start pulls (or finds) the image and starts one attempt of a container,
// recording why it waits when it cannot.
func (ws *Workers) start(ctx context.Context, w *worker, pod *corev1.Pod, c *corev1.Container, sb *kruntime.Sandbox, attempt int, volumePaths map[string]string, target string) bool {
	rt, rec := ws.cfg.Runtime, ws.cfg.Recorder
	img, ok := ws.ensureImage(ctx, w, pod, c)
	if !ok {
		return false
	}
	if attempt > 0 {
		// A restart counts for the crash back-off once its image is there:
		// a failing pull backs off on its own (ImagePullBackOff).
		ws.cfg.Backoff.Next(string(pod.UID)+"/"+c.Name, time.Now())
	}
	env, err := ws.containerEnv(ctx, pod, c, sb.IP)
	if err != nil {
		rec.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		w.waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: err.Error()}
		return false
	}
	env = append([]string{"HOSTNAME=" + pod.Name}, env...)
	var mounts []kruntime.Mount
	if ws.cfg.Volumes != nil {
		if mounts, err = ContainerMounts(c, volumePaths); err != nil {
			rec.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
			w.waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: err.Error()}
			return false
		}
	}
	expanded := c.DeepCopy()
	expanded.Command = ExpandArgs(c.Command, env)
	expanded.Args = ExpandArgs(c.Args, env)
	if err := rt.StartContainer(ctx, kruntime.StartRequest{Pod: pod, Container: expanded, Attempt: attempt, Sandbox: sb, Env: env, ImageRef: img.Ref, Mounts: mounts, Target: target}); err != nil {
		rec.Eventf(pod, corev1.EventTypeWarning, "Failed", "Error: %v", err)
		w.waiting[c.Name] = &corev1.ContainerStateWaiting{Reason: ReasonRunContainerError, Message: err.Error()}
		return false
	}
	delete(w.waiting, c.Name)
	rec.Eventf(pod, corev1.EventTypeNormal, "Created", "Created container: %s", c.Name)
	rec.Eventf(pod, corev1.EventTypeNormal, "Started", "Started container %s", c.Name)
	if c.Lifecycle != nil && c.Lifecycle.PostStart != nil {
		// As upstream, the container counts as started only once its
		// postStart hook returned; a failing hook kills it.
		if err := runHook(ctx, rt, pod, c, c.Lifecycle.PostStart, sb.IP, 2*time.Minute); err != nil {
			rec.Eventf(pod, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %v", err)
			if err := rt.StopContainer(ctx, pod.UID, c.Name, gracePeriod(pod)); err != nil {
				klog.FromContext(ctx).Error(err, "Stopping container after its postStart hook failed", "pod", klog.KObj(pod), "container", c.Name)
			}
		}
	}
	return true
}

func podDesc(pod *corev1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}

// writeStatus sends the computed status when it differs from the last one.
func (ws *Workers) writeStatus(ctx context.Context, w *worker, pod *corev1.Pod, obs Observation) error {
	status := PodStatus(pod, obs)
	if w.lastStatus != nil && equality.Semantic.DeepEqual(*w.lastStatus, status) && equality.Semantic.DeepEqual(pod.Status, status) {
		return nil
	}
	if equality.Semantic.DeepEqual(pod.Status, status) {
		w.lastStatus = &status
		return nil
	}
	updated := pod.DeepCopy()
	updated.Status = status
	res, err := ws.cfg.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		// Our copy is stale: take the API's and try once more.
		fresh, gerr := ws.cfg.Client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if fresh.UID != pod.UID {
			return nil
		}
		fresh.Status = PodStatus(fresh, obs)
		res, err = ws.cfg.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, fresh, metav1.UpdateOptions{})
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("updating status: %w", err)
	}
	w.lastStatus = &status
	w.mu.Lock()
	if w.pod.ResourceVersion == pod.ResourceVersion {
		w.pod = res
	}
	w.mu.Unlock()
	return nil
}

// terminate stops the pod's containers within its grace period, removes all
// it left on the node and then deletes the API object for good.
func (ws *Workers) terminate(ctx context.Context, w *worker, pod *corev1.Pod, gone bool) (bool, error) {
	w.stopProbes()
	rt := ws.cfg.Runtime
	grace := gracePeriod(pod)
	if gone && pod.DeletionGracePeriodSeconds == nil {
		// Force-deleted, or an orphan found after a restart: nobody waits.
		grace = 2 * time.Second
	}
	ctrs, err := rt.Containers(ctx, pod.UID)
	if err != nil {
		return false, err
	}
	latest, _ := Attempts(ctrs)
	var wg sync.WaitGroup
	errs := make(chan error, len(latest))
	for name, c := range latest {
		if c.State == kruntime.StateExited {
			continue
		}
		if pod.Namespace != "" {
			ws.cfg.Recorder.Eventf(pod, corev1.EventTypeNormal, "Killing", "Stopping container %s", name)
		}
		spec := specContainer(pod, name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			left := grace
			if spec != nil && spec.Lifecycle != nil && spec.Lifecycle.PreStop != nil && c.State == kruntime.StateRunning {
				// The preStop hook runs first, within the grace period.
				start := time.Now()
				hctx, cancel := context.WithTimeout(ctx, grace)
				ip := ""
				if pod.Status.PodIP != "" {
					ip = pod.Status.PodIP
				}
				if err := runHook(hctx, rt, pod, spec, spec.Lifecycle.PreStop, ip, grace); err != nil {
					ws.cfg.Recorder.Eventf(pod, corev1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed: %v", err)
				}
				cancel()
				left = max(2*time.Second, grace-time.Since(start))
			}
			if err := rt.StopContainer(ctx, pod.UID, name, left); err != nil {
				errs <- fmt.Errorf("stopping %s: %w", name, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return false, err
	}
	if ws.cfg.Volumes != nil {
		if err := ws.cfg.Volumes.Teardown(pod.UID); err != nil {
			return false, fmt.Errorf("removing volumes: %w", err)
		}
	}
	if err := rt.RemoveSandbox(ctx, pod.UID); err != nil {
		return false, fmt.Errorf("removing sandbox: %w", err)
	}
	if !gone {
		err := ws.cfg.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To[int64](0),
			Preconditions:      metav1.NewUIDPreconditions(string(pod.UID)),
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return false, fmt.Errorf("deleting pod: %w", err)
		}
	}
	klog.FromContext(ctx).V(2).Info("Pod terminated", "pod", klog.KObj(pod), "podUID", pod.UID)
	return true, nil
}

// Ephemeral returns an ephemeral container as the container it runs as
// (the two types share their fields; the ones a container may have and an
// ephemeral one may not are refused by the API).
func Ephemeral(e *corev1.EphemeralContainer) *corev1.Container {
	c := corev1.Container(e.EphemeralContainerCommon)
	return &c
}

// specContainer finds a container, init container or ephemeral container of
// pod by name.
func specContainer(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		if pod.Spec.EphemeralContainers[i].Name == name {
			return Ephemeral(&pod.Spec.EphemeralContainers[i])
		}
	}
	return nil
}
