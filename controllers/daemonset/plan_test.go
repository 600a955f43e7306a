package daemonset

import (
	"reflect"
	"sort"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func testDS(opts ...func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "ns", Generation: 1,
			Annotations: map[string]string{templateGenerationAnnotation: "1"}},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.35"}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1))}},
		},
	}
	for _, o := range opts {
		o(ds)
	}
	return ds
}

func node(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
}

func daemonPod(ds *appsv1.DaemonSet, nodeName, hash string, ready bool) *corev1.Pod {
	p := newPod(ds, metav1.OwnerReference{}, nodeName, hash)
	p.Name = "agent-" + nodeName + "-" + hash
	p.UID = types.UID(p.Name)
	p.Spec.NodeName = nodeName
	p.Status.Phase = corev1.PodRunning
	if ready {
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	if hash != "new" {
		p.Labels[templateGenerationLabel] = "0"
	}
	return p
}

func podNames(pods []*corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	sort.Strings(out)
	return out
}

func TestShouldRun(t *testing.T) {
	ds := testDS(func(d *appsv1.DaemonSet) { d.Spec.Template.Spec.NodeSelector = map[string]string{"role": "worker"} })
	e := newEligibility(ds)
	worker := map[string]string{"role": "worker"}
	cases := []struct {
		name      string
		node      *corev1.Node
		run, keep bool
	}{
		{"selector matches", node("a", worker), true, true},
		{"selector does not match", node("b", nil), false, false},
		{"not-ready taint is tolerated by default", node("c", worker, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoExecute}), true, true},
		{"unschedulable is tolerated by default", node("d", worker, corev1.Taint{Key: corev1.TaintNodeUnschedulable, Effect: corev1.TaintEffectNoSchedule}), true, true},
		{"foreign NoSchedule taint: no new pod, existing stays", node("e", worker, corev1.Taint{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}), false, true},
		{"foreign NoExecute taint: evicted", node("f", worker, corev1.Taint{Key: "dedicated", Effect: corev1.TaintEffectNoExecute}), false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run, keep := e.shouldRun(tc.node)
			if run != tc.run || keep != tc.keep {
				t.Errorf("shouldRun = %v, %v; want %v, %v", run, keep, tc.run, tc.keep)
			}
		})
	}
}

func TestNewPod(t *testing.T) {
	ds := testDS()
	p := newPod(ds, metav1.OwnerReference{Name: "agent"}, "node-1", "abc")
	if targetNode(p) != "node-1" || p.GenerateName != "agent-" {
		t.Errorf("pod for node-1: target %q generateName %q", targetNode(p), p.GenerateName)
	}
	if p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != "abc" || p.Labels[templateGenerationLabel] != "1" {
		t.Errorf("labels = %v", p.Labels)
	}
	if len(p.Spec.Tolerations) != 6 {
		t.Errorf("want the 6 default daemon tolerations, got %+v", p.Spec.Tolerations)
	}
	if len(ds.Spec.Template.Spec.Tolerations) != 0 || ds.Spec.Template.Spec.Affinity != nil {
		t.Error("the template must not be modified")
	}
}

func TestPlan(t *testing.T) {
	ds := testDS()
	nodes := []*corev1.Node{node("a", nil), node("b", nil), node("c", nil), node("d", nil)}
	failed := daemonPod(ds, "b", "new", false)
	failed.Status.Phase = corev1.PodFailed
	dupOld := daemonPod(ds, "a", "new", true)
	dupOld.CreationTimestamp = metav1.NewTime(t0)
	dupNew := daemonPod(ds, "a", "new", true)
	dupNew.Name = "agent-a-dup"
	dupNew.CreationTimestamp = metav1.NewTime(t0.Add(time.Minute))
	gone := daemonPod(ds, "gone", "new", true)
	terminatingOld := daemonPod(ds, "a", "old", true)
	terminatingOld.DeletionTimestamp = &metav1.Time{Time: t0}
	cases := []struct {
		name       string
		ds         *appsv1.DaemonSet
		pods       []*corev1.Pod
		wantCreate []string
		wantDelete []string
	}{
		{"a pod per node", ds, nil, []string{"a", "b", "c", "d"}, nil},
		{"only missing nodes", ds, []*corev1.Pod{daemonPod(ds, "a", "new", true), daemonPod(ds, "d", "new", true)}, []string{"b", "c"}, nil},
		{"failed pod deleted, duplicate trimmed, pod of a gone node deleted", ds,
			[]*corev1.Pod{dupOld, dupNew, failed, daemonPod(ds, "c", "new", true), daemonPod(ds, "d", "new", true), gone}, nil,
			[]string{"agent-a-dup", "agent-b-new", "agent-gone-new"}},
		{"rolling update: one old pod at a time", ds,
			[]*corev1.Pod{daemonPod(ds, "a", "old", true), daemonPod(ds, "b", "old", true), daemonPod(ds, "c", "old", true), daemonPod(ds, "d", "old", true)}, nil,
			[]string{"agent-a-old"}},
		{"rolling update: waits while a new pod is unavailable", ds,
			[]*corev1.Pod{daemonPod(ds, "a", "new", false), daemonPod(ds, "b", "old", true), daemonPod(ds, "c", "old", true), daemonPod(ds, "d", "old", true)}, nil, nil},
		// Replacing an unavailable pod costs no availability, so it does not
		// use the budget, which still lets one available pod go (as upstream).
		{"rolling update: unavailable old pods go at once", ds,
			[]*corev1.Pod{daemonPod(ds, "a", "old", false), daemonPod(ds, "b", "old", false), daemonPod(ds, "c", "old", true), daemonPod(ds, "d", "old", true)}, nil,
			[]string{"agent-a-old", "agent-b-old", "agent-c-old"}},
		{"rolling update: a node whose old pod is terminating counts as unavailable", ds,
			[]*corev1.Pod{terminatingOld, daemonPod(ds, "b", "old", true), daemonPod(ds, "c", "old", true), daemonPod(ds, "d", "old", true)}, nil, nil},
		{"OnDelete leaves old pods", testDS(func(d *appsv1.DaemonSet) {
			d.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
		}), []*corev1.Pod{daemonPod(ds, "a", "old", true), daemonPod(ds, "b", "old", true), daemonPod(ds, "c", "old", true), daemonPod(ds, "d", "old", true)}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := plan(tc.ds, nodes, tc.pods, "new", t0)
			if !reflect.DeepEqual(d.createOn, tc.wantCreate) {
				t.Errorf("createOn = %v, want %v", d.createOn, tc.wantCreate)
			}
			if got := podNames(d.delete); !reflect.DeepEqual(got, tc.wantDelete) {
				t.Errorf("delete = %v, want %v", got, tc.wantDelete)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	ds := testDS(func(d *appsv1.DaemonSet) { d.Spec.Template.Spec.NodeSelector = map[string]string{"role": "worker"} })
	worker := map[string]string{"role": "worker"}
	nodes := []*corev1.Node{node("a", worker), node("b", worker), node("c", nil)}
	pods := []*corev1.Pod{daemonPod(ds, "a", "new", true), daemonPod(ds, "b", "old", false), daemonPod(ds, "c", "new", true)}
	st := plan(ds, nodes, pods, "new", t0).status
	want := appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, NumberMisscheduled: 1,
		NumberReady: 1, NumberAvailable: 1, UpdatedNumberScheduled: 1, NumberUnavailable: 1}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("status = %+v\nwant     %+v", st, want)
	}
}

func TestPlanSurge(t *testing.T) {
	ds := testDS(func(d *appsv1.DaemonSet) {
		d.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{
			MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0))}
	})
	nodes := []*corev1.Node{node("a", nil), node("b", nil), node("c", nil)}
	newOn := func(n string, ready bool) *corev1.Pod {
		p := daemonPod(ds, n, "new", ready)
		p.Name = "agent-" + n + "-new"
		return p
	}
	cases := []struct {
		name       string
		pods       []*corev1.Pod
		wantCreate []string
		wantDelete []string
	}{
		{"one new pod beside an old one", []*corev1.Pod{daemonPod(ds, "a", "old", true), daemonPod(ds, "b", "old", true), daemonPod(ds, "c", "old", true)},
			[]string{"a"}, nil},
		{"waits while the surge pod is not available", []*corev1.Pod{daemonPod(ds, "a", "old", true), newOn("a", false), daemonPod(ds, "b", "old", true), daemonPod(ds, "c", "old", true)},
			nil, nil},
		{"old pod goes once the new one is available", []*corev1.Pod{daemonPod(ds, "a", "old", true), newOn("a", true), daemonPod(ds, "b", "old", true), daemonPod(ds, "c", "old", true)},
			nil, []string{"agent-a-old"}},
		{"next node once a is done", []*corev1.Pod{newOn("a", true), daemonPod(ds, "b", "old", true), daemonPod(ds, "c", "old", true)},
			[]string{"b"}, nil},
		{"unavailable old pods are replaced beyond the surge budget", []*corev1.Pod{daemonPod(ds, "a", "old", false), daemonPod(ds, "b", "old", false), daemonPod(ds, "c", "old", true)},
			[]string{"a", "b", "c"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := plan(ds, nodes, tc.pods, "new", t0)
			if !reflect.DeepEqual(d.createOn, tc.wantCreate) {
				t.Errorf("createOn = %v, want %v", d.createOn, tc.wantCreate)
			}
			if got := podNames(d.delete); !reflect.DeepEqual(got, tc.wantDelete) {
				t.Errorf("delete = %v, want %v", got, tc.wantDelete)
			}
		})
	}
}
