package disruption_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeseed/kubeseed/test/controllertest"
)

var suite controllertest.Suite

func TestMain(m *testing.M) {
	os.Exit(controllertest.Run(m, &suite, "disruption", "deployment", "replicaset"))
}

func deployment(ns, name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
}

func budget(ns, name string, spec policyv1.PodDisruptionBudgetSpec) *policyv1.PodDisruptionBudget {
	spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}}
	return &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
}

func livePods(ctx context.Context, t *testing.T, ns string) []corev1.Pod {
	t.Helper()
	var pods corev1.PodList
	if err := suite.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil {
		t.Fatalf("list pods: %v", err)
	}
	var out []corev1.Pod
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

// readyPods waits for n live pods in ns and marks them Ready, as a kubelet would.
func readyPods(ctx context.Context, t *testing.T, ns string, n int) []corev1.Pod {
	t.Helper()
	var pods []corev1.Pod
	controllertest.Eventually(t, 20*time.Second, fmt.Sprintf("%d ready pods", n), func() (bool, string) {
		pods = livePods(ctx, t, ns)
		ready := 0
		for i := range pods {
			if isReady(&pods[i]) {
				ready++
				continue
			}
			// Bound, so that deletion is graceful as on a node.
			if err := suite.MarkReady(ctx, &pods[i], "node-1"); err != nil && !apierrors.IsConflict(err) {
				return false, err.Error()
			}
		}
		return len(pods) == n && ready == n, fmt.Sprintf("%d pods, %d ready", len(pods), ready)
	})
	return pods
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func waitStatus(ctx context.Context, t *testing.T, ns, name string, want policyv1.PodDisruptionBudgetStatus) *policyv1.PodDisruptionBudget {
	t.Helper()
	var got policyv1.PodDisruptionBudget
	controllertest.Eventually(t, 20*time.Second, fmt.Sprintf("budget status %+v", want), func() (bool, string) {
		if err := suite.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &got); err != nil {
			return false, err.Error()
		}
		s := got.Status
		return s.ExpectedPods == want.ExpectedPods && s.CurrentHealthy == want.CurrentHealthy && s.DesiredHealthy == want.DesiredHealthy &&
				s.DisruptionsAllowed == want.DisruptionsAllowed && s.ObservedGeneration == got.Generation,
			fmt.Sprintf("%+v", s)
	})
	return &got
}

func evict(ctx context.Context, t *testing.T, ns, pod string) error {
	t.Helper()
	cs, err := kubernetes.NewForConfig(suite.RestConfig)
	if err != nil {
		t.Fatal(err)
	}
	return cs.PolicyV1().Evictions(ns).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: pod}})
}

// budgetCause is the DisruptionBudget cause of a refused eviction.
func budgetCause(t *testing.T, err error) string {
	t.Helper()
	if !apierrors.IsTooManyRequests(err) {
		t.Fatalf("eviction err = %v, want 429 TooManyRequests", err)
	}
	st := err.(apierrors.APIStatus).Status()
	if st.Message != "Cannot evict pod as it would violate the pod's disruption budget." {
		t.Errorf("message = %q", st.Message)
	}
	for _, c := range st.Details.Causes {
		if c.Type == policyv1.DisruptionBudgetCause {
			return c.Message
		}
	}
	t.Fatalf("no DisruptionBudget cause in %+v", st.Details)
	return ""
}

// TestDrainRespectsMinAvailable is kubectl drain's story: a budget of 2 out of
// 3 lets one pod go, refuses the next until the replacement is Ready, then
// lets another go.
func TestDrainRespectsMinAvailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	if err := suite.Client.Create(ctx, deployment(ns, "web", 3)); err != nil {
		t.Fatal(err)
	}
	pdb := budget(ns, "web", policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(2))})
	if err := suite.Client.Create(ctx, pdb); err != nil {
		t.Fatal(err)
	}
	pods := readyPods(ctx, t, ns, 3)
	got := waitStatus(ctx, t, ns, "web", policyv1.PodDisruptionBudgetStatus{ExpectedPods: 3, CurrentHealthy: 3, DesiredHealthy: 2, DisruptionsAllowed: 1})
	if c := apimeta.FindStatusCondition(got.Status.Conditions, policyv1.DisruptionAllowedCondition); c == nil ||
		c.Status != metav1.ConditionTrue || c.Reason != policyv1.SufficientPodsReason {
		t.Errorf("DisruptionAllowed condition = %+v, want True SufficientPods", c)
	}
	if out, err := suite.RunKubectl(ctx, "get", "pdb", "-n", ns); err != nil ||
		!strings.Contains(out, "MIN AVAILABLE   MAX UNAVAILABLE   ALLOWED DISRUPTIONS") || !strings.Contains(out, "web    2               N/A               1") {
		t.Errorf("kubectl get pdb:\n%s%v", out, err)
	}

	if err := evict(ctx, t, ns, pods[0].Name); err != nil {
		t.Fatalf("first eviction: %v", err)
	}
	var evicted corev1.Pod
	if err := suite.Client.Get(ctx, client.ObjectKeyFromObject(&pods[0]), &evicted); err != nil {
		t.Fatal(err)
	}
	if evicted.DeletionTimestamp == nil {
		t.Error("evicted pod is not being deleted")
	}
	cond := false
	for _, c := range evicted.Status.Conditions {
		cond = cond || c.Type == corev1.DisruptionTarget && c.Status == corev1.ConditionTrue && c.Reason == "EvictionByEvictionAPI"
	}
	if !cond {
		t.Errorf("evicted pod conditions %+v lack DisruptionTarget EvictionByEvictionAPI", evicted.Status.Conditions)
	}

	// The budget is spent at once, before the controller sees the deletion.
	err := evict(ctx, t, ns, pods[1].Name)
	budgetCause(t, err)
	// Once the controller has counted, the refusal says why in upstream's words.
	controllertest.Eventually(t, 20*time.Second, "refusal naming the budget's numbers", func() (bool, string) {
		err := evict(ctx, t, ns, pods[1].Name)
		if err == nil {
			t.Fatal("second eviction went through a spent budget")
		}
		msg := budgetCause(t, err)
		return msg == "The disruption budget web needs 2 healthy pods and has 2 currently", msg
	})

	// The ReplicaSet replaces the evicted pod; once it is Ready the budget has room again.
	if err := suite.Client.Delete(ctx, &evicted, client.GracePeriodSeconds(0)); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	readyPods(ctx, t, ns, 3)
	waitStatus(ctx, t, ns, "web", policyv1.PodDisruptionBudgetStatus{ExpectedPods: 3, CurrentHealthy: 3, DesiredHealthy: 2, DisruptionsAllowed: 1})
	if err := evict(ctx, t, ns, pods[1].Name); err != nil {
		t.Fatalf("eviction after the replacement is Ready: %v", err)
	}
}

// TestMaxUnavailablePercentCountsTheDeployment checks that a percentage is
// taken of the Deployment's replicas, including pods not yet created.
func TestMaxUnavailablePercentCountsTheDeployment(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	if err := suite.Client.Create(ctx, deployment(ns, "api", 4)); err != nil {
		t.Fatal(err)
	}
	pct := intstr.FromString("25%")
	if err := suite.Client.Create(ctx, budget(ns, "api", policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &pct})); err != nil {
		t.Fatal(err)
	}
	readyPods(ctx, t, ns, 4)
	waitStatus(ctx, t, ns, "api", policyv1.PodDisruptionBudgetStatus{ExpectedPods: 4, CurrentHealthy: 4, DesiredHealthy: 3, DisruptionsAllowed: 1})

	// Scaling the Deployment up moves the budget before the new pods are Ready.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var d appsv1.Deployment
		if err := suite.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "api"}, &d); err != nil {
			return err
		}
		d.Spec.Replicas = ptr.To[int32](8)
		return suite.Client.Update(ctx, &d)
	})
	if err != nil {
		t.Fatal(err)
	}
	got := waitStatus(ctx, t, ns, "api", policyv1.PodDisruptionBudgetStatus{ExpectedPods: 8, CurrentHealthy: 4, DesiredHealthy: 6, DisruptionsAllowed: 0})
	if c := apimeta.FindStatusCondition(got.Status.Conditions, policyv1.DisruptionAllowedCondition); c == nil ||
		c.Status != metav1.ConditionFalse || c.Reason != policyv1.InsufficientPodsReason {
		t.Errorf("DisruptionAllowed condition = %+v, want False InsufficientPods", c)
	}
}

// TestUnhealthyAndPendingPodsGo checks the pods a budget does not guard: a
// pending pod, and a not-Ready one while the application is within budget.
func TestUnhealthyAndPendingPodsGo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	if err := suite.Client.Create(ctx, deployment(ns, "db", 3)); err != nil {
		t.Fatal(err)
	}
	if err := suite.Client.Create(ctx, budget(ns, "db", policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromInt32(2))})); err != nil {
		t.Fatal(err)
	}
	pods := readyPods(ctx, t, ns, 3)
	waitStatus(ctx, t, ns, "db", policyv1.PodDisruptionBudgetStatus{ExpectedPods: 3, CurrentHealthy: 3, DesiredHealthy: 2, DisruptionsAllowed: 1})

	// Make one pod Running but not Ready: currentHealthy 2 = desiredHealthy,
	// so the budget allows nothing, yet the unready pod may still go.
	p := pods[0]
	if err := suite.Client.Get(ctx, client.ObjectKeyFromObject(&p), &p); err != nil {
		t.Fatal(err)
	}
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady || p.Status.Conditions[i].Type == corev1.ContainersReady {
			p.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	if err := suite.Client.Status().Update(ctx, &p); err != nil {
		t.Fatal(err)
	}
	waitStatus(ctx, t, ns, "db", policyv1.PodDisruptionBudgetStatus{ExpectedPods: 3, CurrentHealthy: 2, DesiredHealthy: 2, DisruptionsAllowed: 0})
	budgetCause(t, evict(ctx, t, ns, pods[1].Name))
	if err := evict(ctx, t, ns, p.Name); err != nil {
		t.Fatalf("evicting the unready pod: %v", err)
	}

	// A pod that never ran is no disruption.
	pending := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "pending", Labels: map[string]string{"app": "db"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if err := suite.Client.Create(ctx, pending); err != nil {
		t.Fatal(err)
	}
	if err := evict(ctx, t, ns, "pending"); err != nil {
		t.Fatalf("evicting a pending pod: %v", err)
	}
	if err := evict(ctx, t, ns, "nobody"); !apierrors.IsNotFound(err) {
		t.Errorf("evicting a missing pod: %v, want 404", err)
	}
}
