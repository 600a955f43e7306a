package podworker

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// Condition reasons upstream reports.
const (
	ReasonContainersNotReady       = "ContainersNotReady"
	ReasonPodCompleted             = "PodCompleted"
	ReasonContainerCreating        = "ContainerCreating"
	ReasonPodInitializing          = "PodInitializing"
	ReasonContainersNotInitialized = "ContainersNotInitialized"
	ReasonCrashLoopBackOff         = "CrashLoopBackOff"
	ReasonErrImagePull             = "ErrImagePull"
	ReasonImagePullBackOff         = "ImagePullBackOff"
	ReasonErrImageNeverPull        = "ErrImageNeverPull"
	ReasonCreateContainerErr       = "CreateContainerError"
	ReasonRunContainerError        = "RunContainerError"
)

// Observation is what a worker saw of a pod in the runtime.
type Observation struct {
	// Sandbox is nil until the pod's sandbox exists.
	Sandbox *kruntime.Sandbox
	// Containers is what the runtime knows.
	Containers []kruntime.Container
	// Waiting holds why a container that is not running waits
	// (CrashLoopBackOff, ErrImagePull, ...), by container name.
	Waiting map[string]*corev1.ContainerStateWaiting
	// RuntimeName prefixes container IDs (containerd://...).
	RuntimeName string
	// HostIP is the node's address.
	HostIP string
	// Probes holds probe results by container ID; a running container
	// without an entry is started and ready.
	Probes map[string]ProbeResult
	// Now is the time of the observation.
	Now time.Time
}

// ProbeResult is what the probes of a running container found so far.
type ProbeResult struct {
	Ready   bool
	Started bool
}

// PodStatus computes the status the API should show for pod, keeping
// transition times and startTime from the pod's current status.
func PodStatus(pod *corev1.Pod, o Observation) corev1.PodStatus {
	old := pod.Status
	now := metav1.NewTime(o.Now.Truncate(time.Second))
	s := corev1.PodStatus{
		HostIP:            o.HostIP,
		QOSClass:          old.QOSClass,
		NominatedNodeName: old.NominatedNodeName,
		StartTime:         old.StartTime,
	}
	if o.HostIP != "" {
		s.HostIPs = []corev1.HostIP{{IP: o.HostIP}}
	}
	if s.StartTime == nil {
		s.StartTime = &now
	}
	if o.Sandbox != nil && o.Sandbox.IP != "" {
		s.PodIP = o.Sandbox.IP
		s.PodIPs = []corev1.PodIP{{IP: o.Sandbox.IP}}
	}
	latest, previous := Attempts(o.Containers)
	status := func(c *corev1.Container, defaultWaiting string) corev1.ContainerStatus {
		var pr *ProbeResult
		if l := latest[c.Name]; l != nil {
			if r, ok := o.Probes[l.ID]; ok {
				pr = &r
			}
		}
		waiting := o.Waiting[c.Name]
		if waiting == nil && latest[c.Name] == nil && defaultWaiting != "" {
			waiting = &corev1.ContainerStateWaiting{Reason: defaultWaiting}
		}
		return ContainerStatus(c, latest[c.Name], previous[c.Name], waiting, pr, o.RuntimeName)
	}
	for i := range pod.Spec.InitContainers {
		s.InitContainerStatuses = append(s.InitContainerStatuses, status(&pod.Spec.InitContainers[i], ""))
	}
	initDone, initFailed, pendingInit := InitState(pod, s.InitContainerStatuses)
	mainWaiting := ""
	if !initDone {
		mainWaiting = ReasonPodInitializing
	}
	for i := range pod.Spec.Containers {
		s.ContainerStatuses = append(s.ContainerStatuses, status(&pod.Spec.Containers[i], mainWaiting))
	}
	// Ephemeral containers never make the pod ready or unready, nor change
	// its phase, and are reported not ready, as upstream reports them.
	for i := range pod.Spec.EphemeralContainers {
		cs := status(Ephemeral(&pod.Spec.EphemeralContainers[i]), "")
		cs.Ready = false
		s.EphemeralContainerStatuses = append(s.EphemeralContainerStatuses, cs)
	}
	switch {
	case initFailed:
		s.Phase = corev1.PodFailed
	case !initDone:
		s.Phase = corev1.PodPending
	default:
		s.Phase = Phase(pod.Spec.RestartPolicy, s.ContainerStatuses)
	}
	if old.Phase == corev1.PodSucceeded || old.Phase == corev1.PodFailed {
		// A terminal phase never changes back (upstream enforces it too).
		s.Phase = old.Phase
	}

	var unready []string
	for _, cs := range s.ContainerStatuses {
		if !cs.Ready {
			unready = append(unready, cs.Name)
		}
	}
	ready := condition(corev1.ContainersReady, len(unready) == 0, "", "")
	if len(unready) > 0 {
		ready = condition(corev1.ContainersReady, false, ReasonContainersNotReady, fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " ")))
	}
	if s.Phase == corev1.PodSucceeded || s.Phase == corev1.PodFailed {
		ready = condition(corev1.ContainersReady, false, ReasonPodCompleted, "")
	}
	podReady := ready
	podReady.Type = corev1.PodReady
	initialized := condition(corev1.PodInitialized, true, "", "")
	if !initDone {
		initialized = condition(corev1.PodInitialized, false, ReasonContainersNotInitialized,
			fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(pendingInit, " ")))
	}
	sandboxReady := o.Sandbox != nil && s.Phase != corev1.PodSucceeded && s.Phase != corev1.PodFailed
	conds := []corev1.PodCondition{
		condition(corev1.PodReadyToStartContainers, sandboxReady, "", ""),
		initialized,
		podReady,
		ready,
		condition(corev1.PodScheduled, true, "", ""),
	}
	// Conditions others own (readiness gates, DisruptionTarget) stay.
	for _, c := range old.Conditions {
		if !ownCondition(c.Type) {
			conds = append(conds, c)
		}
	}
	for i := range conds {
		conds[i].LastTransitionTime = now
		for _, oc := range old.Conditions {
			if oc.Type == conds[i].Type && oc.Status == conds[i].Status {
				conds[i].LastTransitionTime = oc.LastTransitionTime
			}
		}
		if conds[i].Type == corev1.PodScheduled {
			for _, oc := range old.Conditions {
				if oc.Type == corev1.PodScheduled {
					conds[i] = oc
					conds[i].Status = corev1.ConditionTrue
				}
			}
		}
	}
	s.Conditions = conds
	// Upstream's status manager orders these two lists by name (init
	// containers keep the spec's order).
	byName := func(a, b corev1.ContainerStatus) int { return strings.Compare(a.Name, b.Name) }
	slices.SortStableFunc(s.ContainerStatuses, byName)
	slices.SortStableFunc(s.EphemeralContainerStatuses, byName)
	return s
}

func ownCondition(t corev1.PodConditionType) bool {
	switch t {
	case corev1.PodReadyToStartContainers, corev1.PodInitialized, corev1.PodReady, corev1.ContainersReady, corev1.PodScheduled:
		return true
	}
	return false
}

func condition(t corev1.PodConditionType, ok bool, reason, message string) corev1.PodCondition {
	st := corev1.ConditionFalse
	if ok {
		st = corev1.ConditionTrue
	}
	return corev1.PodCondition{Type: t, Status: st, Reason: reason, Message: message}
}

func terminated(c *kruntime.Container, runtimeName string) *corev1.ContainerStateTerminated {
	t := &corev1.ContainerStateTerminated{
		ExitCode: c.ExitCode, Reason: c.Reason, Message: c.Message,
		FinishedAt: metav1.NewTime(c.FinishedAt.Truncate(time.Second)), ContainerID: runtimeName + "://" + c.ID,
	}
	if !c.StartedAt.IsZero() {
		t.StartedAt = metav1.NewTime(c.StartedAt.Truncate(time.Second))
	}
	return t
}

// ContainerStatus reports one container from its latest and previous
// attempts, why it waits, if it does, and its probe results (nil: no
// probes, so running means started and ready).
func ContainerStatus(spec *corev1.Container, latest, previous *kruntime.Container, waiting *corev1.ContainerStateWaiting, probe *ProbeResult, runtimeName string) corev1.ContainerStatus {
	f := false
	cs := corev1.ContainerStatus{Name: spec.Name, Image: spec.Image, Started: &f}
	if latest == nil {
		if waiting == nil {
			waiting = &corev1.ContainerStateWaiting{Reason: ReasonContainerCreating}
		}
		cs.State.Waiting = waiting
		return cs
	}
	cs.RestartCount = int32(latest.Attempt)
	cs.ImageID = latest.ImageRef
	cs.ContainerID = runtimeName + "://" + latest.ID
	if previous != nil && previous.State == kruntime.StateExited {
		cs.LastTerminationState.Terminated = terminated(previous, runtimeName)
	}
	switch latest.State {
	case kruntime.StateRunning:
		started, ready := true, true
		if probe != nil {
			started, ready = probe.Started, probe.Ready && probe.Started
		}
		cs.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(latest.StartedAt.Truncate(time.Second))}
		cs.Ready, cs.Started = ready, &started
	case kruntime.StateCreated:
		cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: ReasonContainerCreating}
	default:
		if waiting != nil {
			cs.State.Waiting = waiting
			cs.LastTerminationState = corev1.ContainerState{Terminated: terminated(latest, runtimeName)}
		} else {
			cs.State.Terminated = terminated(latest, runtimeName)
		}
	}
	return cs
}

// Phase derives the pod phase from its containers as upstream does: any
// container waiting for its first start keeps the pod Pending; a running one
// makes it Running; when all have stopped, the restart policy and exit codes
// decide between Running (about to restart), Succeeded and Failed.
func Phase(policy corev1.RestartPolicy, statuses []corev1.ContainerStatus) corev1.PodPhase {
	var running, waiting, stopped, succeeded int
	for _, cs := range statuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.State.Waiting != nil:
			if cs.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		}
	}
	switch {
	case len(statuses) == 0:
		return corev1.PodPending
	case waiting > 0:
		return corev1.PodPending
	case running > 0:
		return corev1.PodRunning
	case stopped > 0:
		if policy == corev1.RestartPolicyAlways || policy == "" {
			return corev1.PodRunning
		}
		if stopped == succeeded {
			return corev1.PodSucceeded
		}
		if policy == corev1.RestartPolicyNever {
			return corev1.PodFailed
		}
		return corev1.PodRunning
	}
	return corev1.PodPending
}

// IsSidecar reports whether an init container is a sidecar (restartPolicy
// Always): it starts in order but keeps running beside the app containers.
func IsSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// InitState says whether the init containers are done (each exited 0, or
// for sidecars, is running), whether one failed for good (restartPolicy
// Never), and which are not done yet.
func InitState(pod *corev1.Pod, statuses []corev1.ContainerStatus) (done, failed bool, pending []string) {
	for i, cs := range statuses {
		c := &pod.Spec.InitContainers[i]
		switch {
		case IsSidecar(c) && cs.State.Running != nil:
		case !IsSidecar(c) && cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
		default:
			pending = append(pending, cs.Name)
			if !IsSidecar(c) && cs.State.Terminated != nil && pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
				failed = true
			}
		}
	}
	return len(pending) == 0, failed, pending
}
