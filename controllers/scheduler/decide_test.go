package scheduler

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func node(name, cpu, mem string, mods ...func(*corev1.Node)) *corev1.Node {
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Status: corev1.NodeStatus{
			Allocatable: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse(cpu),
				corev1.ResourceMemory: resource.MustParse(mem),
				corev1.ResourcePods:   resource.MustParse("110"),
			},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
		},
	}
	for _, m := range mods {
		m(n)
	}
	return n
}

func pod(name, cpu, mem string, mods ...func(*corev1.Pod)) *corev1.Pod {
	req := corev1.ResourceList{}
	if cpu != "" {
		req[corev1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		req[corev1.ResourceMemory] = resource.MustParse(mem)
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID(name)},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Resources: corev1.ResourceRequirements{Requests: req},
		}}},
	}
	for _, m := range mods {
		m(p)
	}
	return p
}

func onNode(n string) func(*corev1.Pod) { return func(p *corev1.Pod) { p.Spec.NodeName = n } }

func withLabels(kv ...string) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Labels = map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
	}
}

func TestFilter(t *testing.T) {
	taint := func(key string, effect corev1.TaintEffect) func(*corev1.Node) {
		return func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: key, Effect: effect}) }
	}
	tolerate := func(key string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: key, Operator: corev1.TolerationOpExists})
		}
	}
	hostPortPod := func(port int32) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: port}}
		}
	}
	gpu := func(n string) func(*corev1.Node) {
		return func(nd *corev1.Node) { nd.Status.Allocatable["example.com/gpu"] = resource.MustParse(n) }
	}
	wantGPU := func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Requests["example.com/gpu"] = resource.MustParse("1")
	}
	tests := []struct {
		name     string
		pod      *corev1.Pod
		node     *corev1.Node
		existing []*corev1.Pod
		want     []string
	}{
		{"fits", pod("p", "500m", "1Gi"), node("n", "1", "2Gi"), nil, nil},
		{"cpu short", pod("p", "1500m", "1Gi"), node("n", "1", "2Gi"), nil, []string{"Insufficient cpu"}},
		{"cpu and memory short", pod("p", "2", "3Gi"), node("n", "1", "2Gi"), nil, []string{"Insufficient cpu", "Insufficient memory"}},
		{"bound pods take room", pod("p", "600m", ""), node("n", "1", "2Gi"), []*corev1.Pod{pod("a", "500m", "", onNode("n"))}, []string{"Insufficient cpu"}},
		{"init container max", pod("p", "200m", "", func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "init", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")}}}}
		}), node("n", "1", "2Gi"), nil, []string{"Insufficient cpu"}},
		{"extended resource", pod("p", "", "", wantGPU), node("n", "1", "2Gi"), nil, []string{"Insufficient example.com/gpu"}},
		{"extended resource present", pod("p", "", "", wantGPU), node("n", "1", "2Gi", gpu("2")), nil, nil},
		{"pod count", pod("p", "", ""), node("n", "1", "2Gi", func(n *corev1.Node) {
			n.Status.Allocatable[corev1.ResourcePods] = resource.MustParse("1")
		}), []*corev1.Pod{pod("a", "", "", onNode("n"))}, []string{"Too many pods"}},
		{"unschedulable", pod("p", "", ""), node("n", "1", "2Gi", func(n *corev1.Node) { n.Spec.Unschedulable = true }), nil, []string{ReasonUnschedulable}},
		{"unschedulable tolerated", pod("p", "", "", tolerate(corev1.TaintNodeUnschedulable)), node("n", "1", "2Gi", func(n *corev1.Node) { n.Spec.Unschedulable = true }), nil, nil},
		{"NoSchedule taint", pod("p", "", ""), node("n", "1", "2Gi", taint("dedicated", corev1.TaintEffectNoSchedule)), nil, []string{ReasonUntoleratedTaint}},
		{"NoExecute taint", pod("p", "", ""), node("n", "1", "2Gi", taint("dedicated", corev1.TaintEffectNoExecute)), nil, []string{ReasonUntoleratedTaint}},
		{"PreferNoSchedule taint passes", pod("p", "", ""), node("n", "1", "2Gi", taint("dedicated", corev1.TaintEffectPreferNoSchedule)), nil, nil},
		{"taint tolerated", pod("p", "", "", tolerate("dedicated")), node("n", "1", "2Gi", taint("dedicated", corev1.TaintEffectNoSchedule)), nil, nil},
		{"not ready", pod("p", "", ""), node("n", "1", "2Gi", func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }), nil, []string{ReasonUntoleratedTaint}},
		{"not ready tolerated", pod("p", "", "", tolerate(corev1.TaintNodeNotReady)), node("n", "1", "2Gi", func(n *corev1.Node) { n.Status.Conditions = nil }), nil, nil},
		{"node selector", pod("p", "", "", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} }), node("n", "1", "2Gi"), nil, []string{ReasonNodeAffinity}},
		{"node affinity", pod("p", "", "", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{"n"}}}}}}}}
		}), node("n", "1", "2Gi"), nil, nil},
		{"node name", pod("p", "", "", onNode("other")), node("n", "1", "2Gi"), nil, []string{ReasonNodeName}},
		{"host port taken", pod("p", "", "", hostPortPod(8080)), node("n", "1", "2Gi"), []*corev1.Pod{pod("a", "", "", onNode("n"), hostPortPod(8080))}, []string{ReasonHostPorts}},
		{"other host port", pod("p", "", "", hostPortPod(8081)), node("n", "1", "2Gi"), []*corev1.Pod{pod("a", "", "", onNode("n"), hostPortPod(8080))}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Filter(tt.pod, NewNodeInfo(tt.node, tt.existing...))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Filter = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFitErrorMessage(t *testing.T) {
	tests := []struct {
		nodes   int
		reasons map[string]int
		want    string
	}{
		{3, map[string]int{"Insufficient cpu": 3}, "0/3 nodes are available: 3 Insufficient cpu."},
		{3, map[string]int{"Insufficient cpu": 2, ReasonUnschedulable: 1}, "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."},
		{0, nil, "no nodes available to schedule pods"},
	}
	for _, tt := range tests {
		if got := FitErrorMessage(tt.nodes, tt.reasons); got != tt.want {
			t.Errorf("FitErrorMessage(%d, %v) = %q, want %q", tt.nodes, tt.reasons, got, tt.want)
		}
	}
}

func TestFindNode(t *testing.T) {
	zone := func(z string) func(*corev1.Node) {
		return func(n *corev1.Node) { n.Labels["zone"] = z }
	}
	antiAffinity := func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, TopologyKey: "kubernetes.io/hostname"}}}}
	}
	affinity := func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cache"}}, TopologyKey: "zone"}}}}
	}
	spread := func(p *corev1.Pod) {
		p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	}
	tests := []struct {
		name        string
		pod         *corev1.Pod
		nodes       []*NodeInfo
		want        string
		wantReasons map[string]int
	}{
		{
			name: "least allocated wins",
			pod:  pod("p", "100m", "100Mi"),
			nodes: []*NodeInfo{
				NewNodeInfo(node("busy", "4", "8Gi"), pod("a", "3", "6Gi", onNode("busy"))),
				NewNodeInfo(node("idle", "4", "8Gi")),
			},
			want: "idle",
		},
		{
			name: "nothing fits",
			pod:  pod("p", "2", ""),
			nodes: []*NodeInfo{
				NewNodeInfo(node("a", "1", "8Gi")),
				NewNodeInfo(node("b", "1", "8Gi")),
				NewNodeInfo(node("c", "4", "8Gi", func(n *corev1.Node) { n.Spec.Unschedulable = true })),
			},
			wantReasons: map[string]int{"Insufficient cpu": 2, ReasonUnschedulable: 1},
		},
		{
			name: "anti-affinity keeps replicas apart",
			pod:  pod("p", "", "", withLabels("app", "db"), antiAffinity),
			nodes: []*NodeInfo{
				NewNodeInfo(node("a", "4", "8Gi"), pod("db-0", "", "", onNode("a"), withLabels("app", "db"))),
				NewNodeInfo(node("b", "4", "8Gi")),
			},
			want: "b",
		},
		{
			name: "existing pod's anti-affinity",
			pod:  pod("p", "", "", withLabels("app", "db")),
			nodes: []*NodeInfo{
				NewNodeInfo(node("a", "4", "8Gi"), pod("db-0", "", "", onNode("a"), withLabels("app", "db"), antiAffinity)),
			},
			wantReasons: map[string]int{ReasonExistingAntiAff: 1},
		},
		{
			name: "affinity follows the cache's zone",
			pod:  pod("p", "", "", affinity),
			nodes: []*NodeInfo{
				NewNodeInfo(node("a", "4", "8Gi", zone("z1"))),
				NewNodeInfo(node("b", "4", "8Gi", zone("z2")), pod("cache", "", "", onNode("b"), withLabels("app", "cache"))),
				NewNodeInfo(node("c", "4", "8Gi", zone("z2"))),
			},
			want: "", // b or c: checked below
		},
		{
			name: "affinity with no match anywhere",
			pod:  pod("p", "", "", affinity),
			nodes: []*NodeInfo{
				NewNodeInfo(node("a", "4", "8Gi", zone("z1"))),
			},
			wantReasons: map[string]int{ReasonAffinity: 1},
		},
		{
			name: "spread fills the empty zone",
			pod:  pod("p", "", "", withLabels("app", "web"), spread),
			nodes: []*NodeInfo{
				NewNodeInfo(node("a", "4", "8Gi", zone("z1")), pod("w1", "", "", onNode("a"), withLabels("app", "web"))),
				NewNodeInfo(node("b", "4", "8Gi", zone("z2"))),
			},
			want: "b",
		},
		{
			name: "spread needs the topology label",
			pod:  pod("p", "", "", withLabels("app", "web"), spread),
			nodes: []*NodeInfo{
				NewNodeInfo(node("a", "4", "8Gi")),
			},
			wantReasons: map[string]int{ReasonSpreadMissingNode: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reasons := FindNode(tt.pod, tt.nodes, func(int) int { return 0 })
			if tt.name == "affinity follows the cache's zone" {
				if got != "b" && got != "c" {
					t.Errorf("FindNode = %q, want b or c (zone z2)", got)
				}
				return
			}
			if got != tt.want || !reflect.DeepEqual(reasons, tt.wantReasons) {
				t.Errorf("FindNode = %q %v, want %q %v", got, reasons, tt.want, tt.wantReasons)
			}
		})
	}
}

func TestScorePrefersBalancedAndUntainted(t *testing.T) {
	p := pod("p", "1", "1Gi")
	tainted := node("tainted", "4", "4Gi", func(n *corev1.Node) {
		n.Spec.Taints = []corev1.Taint{{Key: "x", Effect: corev1.TaintEffectPreferNoSchedule}}
	})
	scores := Score(p, []*NodeInfo{NewNodeInfo(tainted), NewNodeInfo(node("clean", "4", "4Gi"))})
	if scores[0] >= scores[1] {
		t.Errorf("scores = %v: a PreferNoSchedule taint should lose", scores)
	}
	// Same free share, but one node would be left lopsided.
	scores = Score(p, []*NodeInfo{NewNodeInfo(node("lopsided", "2", "64Gi")), NewNodeInfo(node("even", "8", "8Gi"))})
	if scores[0] >= scores[1] {
		t.Errorf("scores = %v: the balanced, less allocated node should win", scores)
	}
}

func TestQueueOrdersByPriorityAndParksUnschedulable(t *testing.T) {
	q := NewQueue()
	low := pod("low", "", "")
	high := pod("high", "", "", func(p *corev1.Pod) { p.Spec.Priority = new(int32(1000)) })
	q.Add(low)
	q.Add(high)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, cycle, _ := q.Pop(ctx)
	if got.Name != "high" {
		t.Fatalf("popped %s first, want the higher-priority pod", got.Name)
	}
	q.Unschedulable(got, cycle)
	got, _, _ = q.Pop(ctx)
	if got.Name != "low" {
		t.Fatalf("popped %s, want low", got.Name)
	}
	q.Done(got)
	// A status-only update does not wake the parked pod; a spec change does.
	statusOnly := high.DeepCopy()
	statusOnly.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse}}
	q.Add(statusOnly)
	short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
	if p, _, ok := q.Pop(short); ok {
		t.Fatalf("popped parked pod %s after a status-only update", p.Name)
	}
	cancelShort()
	q.MoveAllToActive()
	got, _, ok := q.Pop(ctx)
	if !ok || got.Name != "high" {
		t.Fatalf("after MoveAllToActive popped %v, want high", got)
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	for nodes, want := range map[int]int{3: 3, 100: 100, 150: 100, 1000: 420, 5000: 500, 10000: 500} {
		if got := NumFeasibleNodesToFind(nodes); got != want {
			t.Errorf("NumFeasibleNodesToFind(%d) = %d, want %d", nodes, got, want)
		}
	}
}

func TestCacheRotatesAndAssumes(t *testing.T) {
	c := NewCache()
	for _, n := range []string{"a", "b", "c"} {
		c.SetNode(node(n, "1", "1Gi"))
	}
	// Each 600m pod fills a node: three fit, the fourth does not, because
	// each placement is assumed before the next decision.
	got := map[string]bool{}
	for i := range 3 {
		name, _, _ := c.ScheduleAndAssume(pod(fmt.Sprintf("p%d", i), "600m", ""), nil, nil)
		if name == "" || got[name] {
			t.Fatalf("pod %d placed on %q (already used: %v)", i, name, got)
		}
		got[name] = true
	}
	p := pod("extra", "600m", "")
	if name, n, reasons := c.ScheduleAndAssume(p, nil, nil); name != "" || FitErrorMessage(n, reasons) != "0/3 nodes are available: 3 Insufficient cpu." {
		t.Errorf("fourth pod: %q, %s", name, FitErrorMessage(n, reasons))
	}
	// Forgetting a failed binding frees the room.
	c.Forget(pod("p0", "600m", ""))
	if name, _, _ := c.ScheduleAndAssume(p, nil, nil); name == "" {
		t.Error("no room after forgetting an assumed pod")
	}
}

func TestSoftScores(t *testing.T) {
	zone := func(z string) func(*corev1.Node) {
		return func(n *corev1.Node) { n.Labels[corev1.LabelTopologyZone] = z }
	}
	owned := func(p *corev1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "rs-1", Controller: new(true)}}
	}
	preferCache := func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
			Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cache"}}, TopologyKey: corev1.LabelTopologyZone}}}}}
	}
	tests := []struct {
		name  string
		pod   *corev1.Pod
		nodes []*NodeInfo
		want  string
	}{
		{
			// Both nodes are equally loaded; only the sibling count differs.
			name: "replicas spread by default",
			pod:  pod("web-3", "100m", "", owned),
			nodes: []*NodeInfo{
				NewNodeInfo(node("a", "4", "8Gi", zone("z1")), pod("web-1", "100m", "", onNode("a"), owned), pod("web-2", "100m", "", onNode("a"), owned)),
				NewNodeInfo(node("b", "4", "8Gi", zone("z2")), pod("other-1", "100m", "", onNode("b")), pod("other-2", "100m", "", onNode("b"))),
			},
			want: "b",
		},
		{
			name: "preferred affinity draws to the cache's zone",
			pod:  pod("app", "100m", "", preferCache),
			nodes: []*NodeInfo{
				NewNodeInfo(node("a", "4", "8Gi", zone("z1"))),
				NewNodeInfo(node("b", "4", "8Gi", zone("z2")), pod("cache", "100m", "", onNode("b"), withLabels("app", "cache"))),
			},
			want: "b",
		},
	}
	for _, tt := range tests {
		if got, _ := FindNode(tt.pod, tt.nodes, func(int) int { return 0 }); got != tt.want {
			t.Errorf("%s: FindNode = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestQueueWakesParkedPodsByPriority(t *testing.T) {
	q := NewQueue()
	clock := time.Unix(1000, 0)
	q.now = func() time.Time { return clock }
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	low := pod("low", "", "")
	high := pod("high", "", "", func(p *corev1.Pod) { p.Spec.Priority = new(int32(100)) })
	for _, p := range []*corev1.Pod{low, high} {
		q.Add(p)
		got, cycle, _ := q.Pop(ctx)
		q.Unschedulable(got, cycle)
	}
	// Long after their backoff, a node appears: both wake at once and the
	// higher priority goes first.
	clock = clock.Add(time.Minute)
	q.MoveAllToActive()
	first, _, _ := q.Pop(ctx)
	second, _, _ := q.Pop(ctx)
	if first.Name != "high" || second.Name != "low" {
		t.Errorf("woken in order %s, %s; want high, low", first.Name, second.Name)
	}
}
