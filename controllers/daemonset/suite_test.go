package daemonset_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeseed/kubeseed/test/controllertest"
)

var suite controllertest.Suite

func TestMain(m *testing.M) {
	os.Exit(controllertest.Run(m, &suite, "daemonset"))
}

// nodes creates ready nodes "<ns>-<name>" carrying the label pool=<ns>, so
// each test's DaemonSet sees only its own nodes.
func nodes(ctx context.Context, t *testing.T, ns string, names ...string) []*corev1.Node {
	t.Helper()
	var out []*corev1.Node
	for _, n := range names {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + n, Labels: map[string]string{"pool": ns}}}
		createReadyNode(ctx, t, node)
		out = append(out, node)
	}
	return out
}

// createReadyNode creates node and does what kubelet and the node lifecycle
// controller do once it is up: report Ready and lift the not-ready taint the
// API server puts on new nodes (which daemon pods tolerate only for NoExecute).
func createReadyNode(ctx context.Context, t *testing.T, node *corev1.Node) {
	t.Helper()
	if err := suite.Client.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = suite.Client.Delete(context.Background(), node) })
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if err := suite.Client.Status().Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	node.Spec.Taints = nil
	if err := suite.Client.Update(ctx, node); err != nil {
		t.Fatal(err)
	}
}

func newDS(ns string) *appsv1.DaemonSet {
	labels := map[string]string{"app": "agent"}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agent"},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{"pool": ns},
					Containers:   []corev1.Container{{Name: "agent", Image: "busybox:1.35"}},
				},
			},
		},
	}
}

// podsByNode maps node name to the images of the live pods there.
func podsByNode(ctx context.Context, ns string) map[string][]string {
	var pods corev1.PodList
	_ = suite.Client.List(ctx, &pods, client.InNamespace(ns))
	out := map[string][]string{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		node := p.Spec.NodeName
		if node == "" && p.Spec.Affinity != nil {
			node = p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchFields[0].Values[0]
		}
		out[node] = append(out[node], p.Spec.Containers[0].Image)
	}
	return out
}

func keys(m map[string][]string) string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return strings.Join(k, ",")
}

func TestOnePodPerEligibleNode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	suite.PlayKubelet(ctx, ns)
	ns1 := nodes(ctx, t, ns, "a", "b")
	other := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: ns + "-c"}}
	createReadyNode(ctx, t, other)
	ds := newDS(ns)
	if err := suite.Client.Create(ctx, ds); err != nil {
		t.Fatal(err)
	}
	want := ns + "-a," + ns + "-b"
	controllertest.Eventually(t, 20*time.Second, "a pod on each pool node", func() (bool, string) {
		m := podsByNode(ctx, ns)
		var got appsv1.DaemonSet
		_ = suite.Client.Get(ctx, client.ObjectKeyFromObject(ds), &got)
		s := got.Status
		return keys(m) == want && len(m[ns+"-a"]) == 1 && s.DesiredNumberScheduled == 2 && s.NumberReady == 2 && s.NumberAvailable == 2 &&
			s.UpdatedNumberScheduled == 2 && s.ObservedGeneration == got.Generation, fmt.Sprintf("%v %+v", m, s)
	})
	var pods corev1.PodList
	_ = suite.Client.List(ctx, &pods, client.InNamespace(ns))
	p := pods.Items[0]
	if p.Labels["controller-revision-hash"] == "" || p.Labels["pod-template-generation"] != "1" || !strings.HasPrefix(p.Name, "agent-") {
		t.Errorf("pod %s labels %v", p.Name, p.Labels)
	}

	// A node joining the pool gets a pod.
	patch := client.MergeFrom(other.DeepCopy())
	other.Labels = map[string]string{"pool": ns}
	if err := suite.Client.Patch(ctx, other, patch); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 20*time.Second, "pod on the new pool node", func() (bool, string) {
		m := podsByNode(ctx, ns)
		return keys(m) == want+","+ns+"-c", fmt.Sprint(m)
	})

	// A NoExecute taint it does not tolerate evicts the pod.
	a := ns1[0]
	if err := suite.Client.Get(ctx, client.ObjectKeyFromObject(a), a); err != nil {
		t.Fatal(err)
	}
	patch = client.MergeFrom(a.DeepCopy())
	a.Spec.Taints = []corev1.Taint{{Key: "dedicated", Value: "db", Effect: corev1.TaintEffectNoExecute}}
	if err := suite.Client.Patch(ctx, a, patch); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 20*time.Second, "pod gone from the tainted node", func() (bool, string) {
		m := podsByNode(ctx, ns)
		return keys(m) == ns+"-b,"+ns+"-c", fmt.Sprint(m)
	})
}

func TestRollingUpdateAndHistory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	suite.PlayKubelet(ctx, ns)
	nodes(ctx, t, ns, "a", "b", "c")
	ds := newDS(ns)
	if err := suite.Client.Create(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if out, err := suite.RunKubectl(ctx, "-n", ns, "rollout", "status", "daemonset/agent", "--timeout=30s"); err != nil {
		t.Fatalf("rollout status: %v\n%s", err, out)
	}
	var cur appsv1.DaemonSet
	if err := suite.Client.Get(ctx, client.ObjectKeyFromObject(ds), &cur); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.Template.Spec.Containers[0].Image = "busybox:1.36"
	if err := suite.Client.Patch(ctx, &cur, patch); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 40*time.Second, "every node on the new image", func() (bool, string) {
		m := podsByNode(ctx, ns)
		var live int
		for _, images := range m {
			live += len(images)
		}
		if live < 2 {
			t.Fatalf("more than maxUnavailable=1 pods down: %v", m)
		}
		n := 0
		for _, images := range m {
			if len(images) == 1 && images[0] == "busybox:1.36" {
				n++
			}
		}
		var got appsv1.DaemonSet
		_ = suite.Client.Get(ctx, client.ObjectKeyFromObject(ds), &got)
		return n == 3 && got.Status.UpdatedNumberScheduled == 3 && got.Status.NumberAvailable == 3, fmt.Sprintf("%v %+v", m, got.Status)
	})
	out, err := suite.RunKubectl(ctx, "-n", ns, "rollout", "history", "daemonset/agent")
	if err != nil || !strings.Contains(out, "\n1 ") || !strings.Contains(out, "\n2 ") {
		t.Errorf("rollout history: %v\n%s", err, out)
	}
	if out, err := suite.RunKubectl(ctx, "-n", ns, "rollout", "undo", "daemonset/agent"); err != nil {
		t.Fatalf("rollout undo: %v\n%s", err, out)
	}
	controllertest.Eventually(t, 40*time.Second, "rolled back", func() (bool, string) {
		m := podsByNode(ctx, ns)
		n := 0
		for _, images := range m {
			if len(images) == 1 && images[0] == "busybox:1.35" {
				n++
			}
		}
		var revs appsv1.ControllerRevisionList
		_ = suite.Client.List(ctx, &revs, client.InNamespace(ns))
		return n == 3 && len(revs.Items) == 2, fmt.Sprintf("%v, %d revisions", m, len(revs.Items))
	})
}

func TestSurgeKeepsEveryNodeServed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	suite.PlayKubelet(ctx, ns)
	nodes(ctx, t, ns, "a", "b", "c")
	ds := newDS(ns)
	ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0))}}
	if err := suite.Client.Create(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if out, err := suite.RunKubectl(ctx, "-n", ns, "rollout", "status", "daemonset/agent", "--timeout=30s"); err != nil {
		t.Fatalf("rollout status: %v\n%s", err, out)
	}
	var cur appsv1.DaemonSet
	if err := suite.Client.Get(ctx, client.ObjectKeyFromObject(ds), &cur); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.Template.Spec.Containers[0].Image = "busybox:1.36"
	if err := suite.Client.Patch(ctx, &cur, patch); err != nil {
		t.Fatal(err)
	}
	maxPods := 0
	controllertest.Eventually(t, 60*time.Second, "surged onto the new image", func() (bool, string) {
		m := podsByNode(ctx, ns)
		if len(m) != 3 {
			t.Fatalf("a node lost its daemon pod during a maxUnavailable=0 update: %v", m)
		}
		n, total := 0, 0
		for _, images := range m {
			total += len(images)
			if len(images) == 1 && images[0] == "busybox:1.36" {
				n++
			}
		}
		maxPods = max(maxPods, total)
		var got appsv1.DaemonSet
		_ = suite.Client.Get(ctx, client.ObjectKeyFromObject(ds), &got)
		return n == 3 && got.Status.UpdatedNumberScheduled == 3 && got.Status.NumberAvailable == 3, fmt.Sprintf("%v %+v", m, got.Status)
	})
	if maxPods > 4 {
		t.Errorf("%d pods at once with maxSurge=1 on 3 nodes", maxPods)
	}
}
