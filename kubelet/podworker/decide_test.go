package podworker

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

func TestDecide(t *testing.T) {
	running := &kruntime.Container{State: kruntime.StateRunning}
	failed := &kruntime.Container{State: kruntime.StateExited, ExitCode: 1}
	succeeded := &kruntime.Container{State: kruntime.StateExited}
	for _, tc := range []struct {
		name      string
		policy    corev1.RestartPolicy
		latest    *kruntime.Container
		inBackoff bool
		want      Action
	}{
		{"first start", corev1.RestartPolicyAlways, nil, false, Start},
		{"running stays", corev1.RestartPolicyAlways, running, false, Keep},
		{"always restarts a success", corev1.RestartPolicyAlways, succeeded, false, Start},
		{"always waits in back-off", corev1.RestartPolicyAlways, failed, true, Wait},
		{"on failure restarts a failure", corev1.RestartPolicyOnFailure, failed, false, Start},
		{"on failure keeps a success", corev1.RestartPolicyOnFailure, succeeded, false, Keep},
		{"never keeps a failure", corev1.RestartPolicyNever, failed, false, Keep},
		{"empty policy is Always", "", failed, false, Start},
	} {
		if got := Decide(tc.policy, tc.latest, tc.inBackoff); got != tc.want {
			t.Errorf("%s: Decide = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBackoffDoublesAndCaps(t *testing.T) {
	b := NewBackoff()
	t0 := time.Unix(1000, 0)
	if in, _ := b.InBackoff("p/c", t0, t0); in {
		t.Fatal("first restart must not wait")
	}
	now := t0
	var delays []time.Duration
	for range 7 {
		b.Next("p/c", now)
		_, d := b.InBackoff("p/c", now, now)
		delays = append(delays, d)
		now = now.Add(d)
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("delays = %v, want %v", delays, want)
		}
	}
	if in, _ := b.InBackoff("p/c", now, now.Add(299*time.Second)); !in {
		t.Error("restart 299s after a crash at the 5 min delay must wait")
	}
	later := now.Add(time.Hour)
	if in, _ := b.InBackoff("p/c", later, later); in {
		t.Error("back-off must reset after a long quiet period")
	}
	b.Forget("p/")
	if in, _ := b.InBackoff("p/c", now, now); in {
		t.Error("Forget must drop the pod's entries")
	}
}

func TestPhase(t *testing.T) {
	running := corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	creating := corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}
	ok := corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}}
	bad := corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}}
	crashLoop := corev1.ContainerStatus{
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}},
	}
	for _, tc := range []struct {
		name   string
		policy corev1.RestartPolicy
		cs     []corev1.ContainerStatus
		want   corev1.PodPhase
	}{
		{"creating", corev1.RestartPolicyAlways, []corev1.ContainerStatus{running, creating}, corev1.PodPending},
		{"running", corev1.RestartPolicyAlways, []corev1.ContainerStatus{running, running}, corev1.PodRunning},
		{"crash loop is running", corev1.RestartPolicyAlways, []corev1.ContainerStatus{crashLoop}, corev1.PodRunning},
		{"never all ok", corev1.RestartPolicyNever, []corev1.ContainerStatus{ok, ok}, corev1.PodSucceeded},
		{"never one failed", corev1.RestartPolicyNever, []corev1.ContainerStatus{ok, bad}, corev1.PodFailed},
		{"on failure restarting", corev1.RestartPolicyOnFailure, []corev1.ContainerStatus{ok, crashLoop}, corev1.PodRunning},
		{"on failure all ok", corev1.RestartPolicyOnFailure, []corev1.ContainerStatus{ok}, corev1.PodSucceeded},
		{"never one still running", corev1.RestartPolicyNever, []corev1.ContainerStatus{bad, running}, corev1.PodRunning},
	} {
		if got := Phase(tc.policy, tc.cs); got != tc.want {
			t.Errorf("%s: Phase = %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestPodStatusConditionsAndRestarts(t *testing.T) {
	now := time.Unix(2000, 0)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "a", Image: "busybox"}, {Name: "b", Image: "busybox"}},
	}}
	obs := Observation{
		Sandbox: &kruntime.Sandbox{IP: "10.244.0.7"}, RuntimeName: "containerd", HostIP: "192.0.2.1", Now: now,
		Containers: []kruntime.Container{
			{ID: "a0", Name: "a", Attempt: 0, State: kruntime.StateExited, ExitCode: 1, Reason: "Error", FinishedAt: now.Add(-time.Minute)},
			{ID: "a1", Name: "a", Attempt: 1, State: kruntime.StateRunning, StartedAt: now.Add(-time.Second)},
			{ID: "b0", Name: "b", Attempt: 0, State: kruntime.StateExited, ExitCode: 2, Reason: "Error", FinishedAt: now},
		},
		Waiting: map[string]*corev1.ContainerStateWaiting{"b": {Reason: ReasonCrashLoopBackOff}},
	}
	s := PodStatus(pod, obs)
	if s.Phase != corev1.PodRunning || s.PodIP != "10.244.0.7" || s.HostIP != "192.0.2.1" || s.StartTime == nil {
		t.Fatalf("status = %+v", s)
	}
	a, b := s.ContainerStatuses[0], s.ContainerStatuses[1]
	if a.RestartCount != 1 || !a.Ready || a.State.Running == nil || a.LastTerminationState.Terminated == nil ||
		a.LastTerminationState.Terminated.ExitCode != 1 || a.ContainerID != "containerd://a1" {
		t.Errorf("a = %+v", a)
	}
	if b.Ready || b.State.Waiting == nil || b.State.Waiting.Reason != ReasonCrashLoopBackOff || b.LastTerminationState.Terminated.ExitCode != 2 {
		t.Errorf("b = %+v", b)
	}
	want := map[corev1.PodConditionType]corev1.ConditionStatus{
		corev1.PodReadyToStartContainers: corev1.ConditionTrue, corev1.PodInitialized: corev1.ConditionTrue,
		corev1.ContainersReady: corev1.ConditionFalse, corev1.PodReady: corev1.ConditionFalse, corev1.PodScheduled: corev1.ConditionTrue,
	}
	for _, c := range s.Conditions {
		if want[c.Type] != c.Status {
			t.Errorf("condition %s = %s, want %s", c.Type, c.Status, want[c.Type])
		}
		if c.Type == corev1.PodReady && (c.Reason != ReasonContainersNotReady || c.Message != "containers with unready status: [b]") {
			t.Errorf("Ready condition = %+v", c)
		}
	}
	// Transition times survive a status with the same condition values.
	pod.Status = s
	s2 := PodStatus(pod, Observation{Sandbox: obs.Sandbox, Containers: obs.Containers, Waiting: obs.Waiting, RuntimeName: "containerd", HostIP: "192.0.2.1", Now: now.Add(time.Hour)})
	for i := range s2.Conditions {
		if !s2.Conditions[i].LastTransitionTime.Equal(&s.Conditions[i].LastTransitionTime) {
			t.Errorf("condition %s moved its transition time", s2.Conditions[i].Type)
		}
	}
}

func TestEnvExpansionAndFieldRefs(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Labels: map[string]string{"app": "web"}}}
	c := &corev1.Container{Env: []corev1.EnvVar{
		{Name: "A", Value: "x"},
		{Name: "B", Value: "$(A)-y-$$(A)-$(MISSING)"},
		{Name: "NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
	}}
	env, err := Env(t.Context(), nil, pod, c, "10.244.0.9", "192.0.2.1", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A=x", "B=x-y-$(A)-$(MISSING)", "NAME=p", "IP=10.244.0.9", "APP=web"}
	for i := range want {
		if env[i] != want[i] {
			t.Fatalf("env = %v, want %v", env, want)
		}
	}
	if got := ExpandArgs([]string{"echo $(NAME)"}, env); got[0] != "echo p" {
		t.Errorf("ExpandArgs = %v", got)
	}
}

func TestInitState(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	pod := &corev1.Pod{Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, InitContainers: []corev1.Container{
		{Name: "a"}, {Name: "side", RestartPolicy: &always}, {Name: "b"},
	}}}
	done := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0}}
	failed := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	waiting := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{}}
	st := func(states ...corev1.ContainerState) []corev1.ContainerStatus {
		var out []corev1.ContainerStatus
		for i, s := range states {
			out = append(out, corev1.ContainerStatus{Name: pod.Spec.InitContainers[i].Name, State: s})
		}
		return out
	}
	if d, f, p := InitState(pod, st(done, running, done)); !d || f || len(p) != 0 {
		t.Errorf("all done: %v %v %v", d, f, p)
	}
	if d, f, p := InitState(pod, st(done, running, waiting)); d || f || len(p) != 1 || p[0] != "b" {
		t.Errorf("b pending: %v %v %v", d, f, p)
	}
	if d, f, _ := InitState(pod, st(failed, waiting, waiting)); d || !f {
		t.Errorf("a failed with restartPolicy Never: done %v failed %v", d, f)
	}
}

func TestAdmit(t *testing.T) {
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("1Gi"), corev1.ResourcePods: resource.MustParse("3")}
	pod := func(cpu, mem string) *corev1.Pod {
		req := corev1.ResourceList{}
		if cpu != "" {
			req[corev1.ResourceCPU] = resource.MustParse(cpu)
		}
		if mem != "" {
			req[corev1.ResourceMemory] = resource.MustParse(mem)
		}
		return &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: req}}}}}
	}
	for _, tc := range []struct {
		name     string
		pod      *corev1.Pod
		admitted []*corev1.Pod
		reason   string
	}{
		{"fits", pod("1", "512Mi"), []*corev1.Pod{pod("500m", "")}, ""},
		{"no requests always fit", pod("", ""), []*corev1.Pod{pod("2", "1Gi")}, ""},
		{"cpu", pod("1500m", ""), []*corev1.Pod{pod("1", "")}, "OutOfcpu"},
		{"memory", pod("", "1Gi"), []*corev1.Pod{pod("", "1")}, "OutOfmemory"},
		{"pods", pod("", ""), []*corev1.Pod{pod("", ""), pod("", ""), pod("", "")}, "OutOfpods"},
	} {
		ok, reason, msg := Admit(tc.pod, tc.admitted, alloc)
		if ok != (tc.reason == "") || reason != tc.reason {
			t.Errorf("%s: Admit = %v %q %q, want reason %q", tc.name, ok, reason, msg, tc.reason)
		}
	}
	if ok, _, msg := Admit(pod("1500m", ""), []*corev1.Pod{pod("1", "")}, alloc); ok ||
		msg != "Node didn't have enough resource: cpu, requested: 1500, used: 1000, capacity: 2000" {
		t.Errorf("message = %q", msg)
	}
}

func TestPodStatusEphemeralContainers(t *testing.T) {
	now := time.Unix(2000, 0)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyAlways,
		Containers:    []corev1.Container{{Name: "web", Image: "busybox"}, {Name: "app", Image: "busybox"}},
		EphemeralContainers: []corev1.EphemeralContainer{
			{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger-z", Image: "busybox"}, TargetContainerName: "app"},
			{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger-a", Image: "busybox"}},
			{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger-m", Image: "busybox"}},
		},
	}}
	obs := Observation{
		Sandbox: &kruntime.Sandbox{IP: "10.244.0.7"}, RuntimeName: "containerd", Now: now,
		Containers: []kruntime.Container{
			{ID: "w0", Name: "web", State: kruntime.StateRunning, StartedAt: now},
			{ID: "a0", Name: "app", State: kruntime.StateRunning, StartedAt: now},
			{ID: "z0", Name: "debugger-z", State: kruntime.StateRunning, StartedAt: now},
			// An ephemeral container that failed stays failed: it never
			// makes the pod fail nor unready.
			{ID: "a1", Name: "debugger-a", State: kruntime.StateExited, ExitCode: 1, Reason: "Error", FinishedAt: now},
		},
	}
	s := PodStatus(pod, obs)
	if s.Phase != corev1.PodRunning {
		t.Errorf("phase = %s, want Running", s.Phase)
	}
	for _, c := range s.Conditions {
		if c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue {
			t.Errorf("Ready = %s (%s), want True: ephemeral containers do not count", c.Status, c.Message)
		}
	}
	var names []string
	for _, cs := range s.ContainerStatuses {
		names = append(names, cs.Name)
	}
	if got := strings.Join(names, ","); got != "app,web" {
		t.Errorf("container statuses in order %s, want app,web (by name, as upstream)", got)
	}
	names = nil
	for _, cs := range s.EphemeralContainerStatuses {
		names = append(names, cs.Name)
		if cs.Ready {
			t.Errorf("ephemeral %s reported ready", cs.Name)
		}
	}
	if got := strings.Join(names, ","); got != "debugger-a,debugger-m,debugger-z" {
		t.Fatalf("ephemeral statuses %s, want debugger-a,debugger-m,debugger-z", got)
	}
	eph := s.EphemeralContainerStatuses
	if st := eph[0].State.Terminated; st == nil || st.ExitCode != 1 || eph[0].RestartCount != 0 {
		t.Errorf("debugger-a = %+v, want terminated with exit code 1", eph[0].State)
	}
	if w := eph[1].State.Waiting; w == nil || w.Reason != ReasonContainerCreating {
		t.Errorf("debugger-m (not started yet) = %+v, want waiting ContainerCreating", eph[1].State)
	}
	if eph[2].State.Running == nil || eph[2].ContainerID != "containerd://z0" {
		t.Errorf("debugger-z = %+v, want running z0", eph[2])
	}
}

func TestEphemeralNeverRestarts(t *testing.T) {
	exited := &kruntime.Container{Name: "debugger", State: kruntime.StateExited, ExitCode: 137}
	if got := Decide(corev1.RestartPolicyNever, exited, false); got != Keep {
		t.Errorf("an exited ephemeral container: %v, want Keep", got)
	}
	if got := Decide(corev1.RestartPolicyNever, nil, false); got != Start {
		t.Errorf("a new ephemeral container: %v, want Start", got)
	}
	e := &corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debugger", Image: "busybox", Command: []string{"sh"}, Stdin: true, TTY: true,
	}, TargetContainerName: "app"}
	if c := Ephemeral(e); c.Name != "debugger" || c.Image != "busybox" || !c.Stdin || !c.TTY || len(c.Command) != 1 {
		t.Errorf("Ephemeral(%+v) = %+v", e, c)
	}
}
