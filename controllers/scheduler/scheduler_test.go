package scheduler_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestPodsLandOnlyWhereTheyFit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := makeNamespace(t, ctx, "fit")
	makeNode(t, ctx, "fit-small", "1")
	makeNode(t, ctx, "fit-medium", "2")
	makeNode(t, ctx, "fit-large", "4", func(n *corev1.Node) { n.Labels["disk"] = "ssd" })

	big := makePod(t, ctx, ns, "big", "3")
	if got := waitBound(t, ctx, big); got != "fit-large" {
		t.Errorf("a 3-cpu pod went to %s, want fit-large (the only node with room)", got)
	}
	ssd := makePod(t, ctx, ns, "ssd", "100m", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"disk": "ssd"} })
	if got := waitBound(t, ctx, ssd); got != "fit-large" {
		t.Errorf("a pod selecting disk=ssd went to %s, want fit-large", got)
	}
	var got corev1.Pod
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(big), &got); err != nil {
		t.Fatal(err)
	}
	if !hasCondition(&got, corev1.PodScheduled, corev1.ConditionTrue) {
		t.Errorf("bound pod conditions %+v, want PodScheduled=True", got.Status.Conditions)
	}
	e := findEvent(t, ctx, big, "Scheduled")
	if want := fmt.Sprintf("Successfully assigned %s/big to fit-large", ns); e.Note != want || e.Type != corev1.EventTypeNormal {
		t.Errorf("Scheduled event %q (%s), want %q (Normal)", e.Note, e.Type, want)
	}
}

func hasCondition(p *corev1.Pod, typ corev1.PodConditionType, status corev1.ConditionStatus) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == typ && c.Status == status {
			return true
		}
	}
	return false
}

func TestUnschedulablePodWaitsForAFittingNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	ns := makeNamespace(t, ctx, "pending")
	for i := range 3 {
		makeNode(t, ctx, fmt.Sprintf("pending-%d", i), "1")
	}
	p := makePod(t, ctx, ns, "huge", "8")
	const want = "0/3 nodes are available: 3 Insufficient cpu."
	got := waitUnschedulable(t, ctx, p, want)
	if got.Spec.NodeName != "" || got.Status.Phase != corev1.PodPending {
		t.Errorf("unschedulable pod: node %q phase %q, want none and Pending", got.Spec.NodeName, got.Status.Phase)
	}
	e := findEvent(t, ctx, p, "FailedScheduling")
	if !strings.Contains(e.Note, " nodes are available: ") || e.Type != corev1.EventTypeWarning || e.ReportingController != "default-scheduler" {
		t.Errorf("FailedScheduling event %q type %s by %q, want a Warning by default-scheduler saying why", e.Note, e.Type, e.ReportingController)
	}

	// A node with room appears: the parked pod is retried without polling.
	makeNode(t, ctx, "pending-big", "16")
	if node := waitBound(t, ctx, p); node != "pending-big" {
		t.Errorf("pod bound to %s, want pending-big", node)
	}
}

func TestTaintsAreRespected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := makeNamespace(t, ctx, "taints")
	makeNode(t, ctx, "taints-dedicated", "8", func(n *corev1.Node) {
		n.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	})
	makeNode(t, ctx, "taints-general", "1")
	makeNode(t, ctx, "taints-notready", "8", func(n *corev1.Node) {
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady"}}
	})

	// Only the general node is open to an intolerant pod, even though the
	// others are emptier.
	for i := range 3 {
		p := makePod(t, ctx, ns, fmt.Sprintf("plain-%d", i), "100m")
		if got := waitBound(t, ctx, p); got != "taints-general" {
			t.Errorf("pod without tolerations went to %s, want taints-general", got)
		}
	}
	tolerant := makePod(t, ctx, ns, "tolerant", "2", func(p *corev1.Pod) {
		p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}
	})
	if got := waitBound(t, ctx, tolerant); got != "taints-dedicated" {
		t.Errorf("tolerating pod went to %s, want taints-dedicated", got)
	}
}

func TestBurstOfPodsIsBoundWithoutOvercommit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := makeNamespace(t, ctx, "burst")
	// 5100m in all for 50 pods of 100m: they fit only if no node is overcommitted
	// by a stale view of what is already placed.
	for i := range 3 {
		makeNode(t, ctx, fmt.Sprintf("burst-%d", i), "1700m")
	}
	start := time.Now()
	pods := make([]*corev1.Pod, 50)
	for i := range pods {
		pods[i] = makePod(t, ctx, ns, fmt.Sprintf("p-%02d", i), "100m")
	}
	used := map[string]int64{}
	for _, p := range pods {
		used[waitBound(t, ctx, p)] += 100
	}
	t.Logf("50 pods bound %v after the first was created: %v", time.Since(start).Round(time.Millisecond), used)
	for node, milli := range used {
		if milli > 1700 {
			t.Errorf("node %s holds %dm of cpu requests, over its 1700m", node, milli)
		}
	}
	// And one more does not fit anywhere.
	extra := makePod(t, ctx, ns, "extra", "200m")
	deadline := time.After(3 * time.Second)
	for {
		var got corev1.Pod
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(extra), &got); err != nil {
			t.Fatal(err)
		}
		if got.Spec.NodeName != "" {
			t.Fatalf("pod needing 200m was bound to %s with only 100m free anywhere", got.Spec.NodeName)
		}
		if hasCondition(&got, corev1.PodScheduled, corev1.ConditionFalse) {
			break
		}
		select {
		case <-deadline:
			t.Fatal("the extra pod got no PodScheduled=False condition")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestAntiAffinityAndSpreadHold(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	ns := makeNamespace(t, ctx, "placement")
	zones := map[string]string{"placement-a1": "a", "placement-a2": "a", "placement-b1": "b"}
	for name, zone := range zones {
		makeNode(t, ctx, name, "8", func(n *corev1.Node) { n.Labels["topology.kubernetes.io/zone"] = zone })
	}
	// Three replicas that refuse to share a node: one per node; a fourth waits.
	db := func(p *corev1.Pod) {
		p.Labels = map[string]string{"app": "db"}
		p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
				TopologyKey:   "kubernetes.io/hostname",
			}},
		}}
	}
	seen := map[string]bool{}
	for i := range 3 {
		node := waitBound(t, ctx, makePod(t, ctx, ns, fmt.Sprintf("db-%d", i), "100m", db))
		if seen[node] {
			t.Errorf("two db replicas on %s despite anti-affinity", node)
		}
		seen[node] = true
	}
	fourth := makePod(t, ctx, ns, "db-3", "100m", db)
	waitUnschedulable(t, ctx, fourth, "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.")

	// Zone spread with maxSkew 1 over zones a (two nodes) and b (one node):
	// four web pods go two and two.
	web := func(p *corev1.Pod) {
		p.Labels = map[string]string{"app": "web"}
		p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{
			MaxSkew: 1, TopologyKey: "topology.kubernetes.io/zone", WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		}}
	}
	perZone := map[string]int{}
	for i := range 4 {
		// One at a time, as the skew is judged against bound pods.
		node := waitBound(t, ctx, makePod(t, ctx, ns, fmt.Sprintf("web-%d", i), "100m", web))
		perZone[zones[node]]++
	}
	if perZone["a"] != 2 || perZone["b"] != 2 {
		t.Errorf("web pods per zone %v, want 2 and 2", perZone)
	}
}
