package deployment_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeseed/kubeseed/controllers/deployment"
	"github.com/kubeseed/kubeseed/test/controllertest"
)

var suite controllertest.Suite

func TestMain(m *testing.M) {
	os.Exit(controllertest.Run(m, &suite, "replicaset", "deployment"))
}

func newDeployment(ns string, replicas int32, image string) *appsv1.Deployment {
	labels := map[string]string{"app": "echo"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "echo", Annotations: map[string]string{deployment.ChangeCauseAnnotation: "first"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "echo", Image: image}}},
			},
		},
	}
}

func sets(ctx context.Context, t *testing.T, ns string) []appsv1.ReplicaSet {
	t.Helper()
	var list appsv1.ReplicaSetList
	if err := suite.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func getDeployment(ctx context.Context, t *testing.T, d *appsv1.Deployment) *appsv1.Deployment {
	t.Helper()
	var got appsv1.Deployment
	if err := suite.Client.Get(ctx, client.ObjectKeyFromObject(d), &got); err != nil {
		t.Fatal(err)
	}
	return &got
}

// waitRolledOut waits for the state `kubectl rollout status` calls done.
func waitRolledOut(ctx context.Context, t *testing.T, d *appsv1.Deployment, timeout time.Duration) *appsv1.Deployment {
	t.Helper()
	var got *appsv1.Deployment
	controllertest.Eventually(t, timeout, "rollout complete", func() (bool, string) {
		got = getDeployment(ctx, t, d)
		s := got.Status
		n := *got.Spec.Replicas
		return s.ObservedGeneration >= got.Generation && s.UpdatedReplicas == n && s.Replicas == n && s.AvailableReplicas == n,
			fmt.Sprintf("generation %d, status %+v", got.Generation, s)
	})
	return got
}

func condition(d *appsv1.Deployment, ct appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == ct {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

func setImage(ctx context.Context, t *testing.T, d *appsv1.Deployment, image, cause string) {
	t.Helper()
	cur := getDeployment(ctx, t, d)
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.Template.Spec.Containers[0].Image = image
	cur.Annotations[deployment.ChangeCauseAnnotation] = cause
	if err := suite.Client.Patch(ctx, cur, patch); err != nil {
		t.Fatal(err)
	}
}

func TestCreatesReplicaSetLikeUpstream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	suite.PlayKubelet(ctx, ns)
	d := newDeployment(ns, 3, "busybox:1.35")
	if err := suite.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	got := waitRolledOut(ctx, t, d, 30*time.Second)
	hash := deployment.ComputeHash(&got.Spec.Template, nil)
	list := sets(ctx, t, ns)
	if len(list) != 1 {
		t.Fatalf("%d replicasets, want 1", len(list))
	}
	rs := list[0]
	if rs.Name != "echo-"+hash {
		t.Errorf("replicaset name %q, want echo-%s", rs.Name, hash)
	}
	for what, m := range map[string]map[string]string{"labels": rs.Labels, "selector": rs.Spec.Selector.MatchLabels, "template labels": rs.Spec.Template.Labels} {
		if m["pod-template-hash"] != hash || m["app"] != "echo" {
			t.Errorf("replicaset %s = %v, want app=echo and pod-template-hash=%s", what, m, hash)
		}
	}
	wantAnn := map[string]string{
		"deployment.kubernetes.io/revision":         "1",
		"deployment.kubernetes.io/desired-replicas": "3",
		"deployment.kubernetes.io/max-replicas":     "4",
		"kubernetes.io/change-cause":                "first",
	}
	for k, v := range wantAnn {
		if rs.Annotations[k] != v {
			t.Errorf("replicaset annotation %s = %q, want %q", k, rs.Annotations[k], v)
		}
	}
	ref := metav1.GetControllerOf(&rs)
	if ref == nil || ref.UID != got.UID || !ptr.Deref(ref.BlockOwnerDeletion, false) {
		t.Errorf("replicaset owner = %+v", rs.OwnerReferences)
	}
	if got.Annotations["deployment.kubernetes.io/revision"] != "1" {
		t.Errorf("deployment revision annotation = %q", got.Annotations["deployment.kubernetes.io/revision"])
	}
	controllertest.Eventually(t, 10*time.Second, "conditions", func() (bool, string) {
		got = getDeployment(ctx, t, d)
		a, p := condition(got, appsv1.DeploymentAvailable), condition(got, appsv1.DeploymentProgressing)
		return a != nil && a.Status == corev1.ConditionTrue && a.Reason == "MinimumReplicasAvailable" &&
				p != nil && p.Status == corev1.ConditionTrue && p.Reason == "NewReplicaSetAvailable",
			fmt.Sprintf("%+v", got.Status.Conditions)
	})
	controllertest.Eventually(t, 10*time.Second, "ScalingReplicaSet event", func() (bool, string) {
		var evs corev1.EventList
		_ = suite.Client.List(ctx, &evs, client.InNamespace(ns))
		var seen []string
		for _, e := range evs.Items {
			if e.Reason == "ScalingReplicaSet" && e.Source.Component == "deployment-controller" {
				if e.Message == fmt.Sprintf("Scaled up replica set echo-%s from 0 to 3", hash) {
					return true, ""
				}
				seen = append(seen, e.Message)
			}
		}
		return false, fmt.Sprint(seen)
	})
	if out, err := suite.RunKubectl(ctx, "-n", ns, "rollout", "status", "deployment/echo", "--timeout=10s"); err != nil || !strings.Contains(out, "successfully rolled out") {
		t.Errorf("kubectl rollout status: %v\n%s", err, out)
	}
}

func TestRollingUpdateNeverBelowReplicasReady(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	suite.PlayKubelet(ctx, ns)
	d := newDeployment(ns, 3, "busybox:1.35")
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{
		MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0)),
	}
	if err := suite.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(ctx, t, d, 30*time.Second)
	setImage(ctx, t, d, "busybox:1.36", "second")

	// Watch the ready pods through the rollout: never fewer than 3, never more than 4 pods.
	controllertest.Eventually(t, 60*time.Second, "rollout to busybox:1.36", func() (bool, string) {
		var pods corev1.PodList
		_ = suite.Client.List(ctx, &pods, client.InNamespace(ns))
		ready, live := 0, 0
		for _, p := range pods.Items {
			if p.DeletionTimestamp != nil {
				continue
			}
			live++
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					ready++
				}
			}
		}
		if ready < 3 {
			t.Fatalf("only %d ready pods during a maxUnavailable=0 rollout", ready)
		}
		if live > 4 {
			t.Fatalf("%d pods during a maxSurge=1 rollout of 3", live)
		}
		got := getDeployment(ctx, t, d)
		s := got.Status
		return s.ObservedGeneration >= got.Generation && s.UpdatedReplicas == 3 && s.Replicas == 3 && s.AvailableReplicas == 3,
			fmt.Sprintf("%+v", s)
	})

	got := getDeployment(ctx, t, d)
	if got.Annotations["deployment.kubernetes.io/revision"] != "2" {
		t.Errorf("deployment revision = %q, want 2", got.Annotations["deployment.kubernetes.io/revision"])
	}
	byRev := map[string]appsv1.ReplicaSet{}
	for _, rs := range sets(ctx, t, ns) {
		byRev[rs.Annotations["deployment.kubernetes.io/revision"]] = rs
	}
	if rs, ok := byRev["1"]; !ok || *rs.Spec.Replicas != 0 || rs.Annotations["kubernetes.io/change-cause"] != "first" {
		t.Errorf("revision 1 set: %+v", rs.ObjectMeta)
	}
	if rs, ok := byRev["2"]; !ok || *rs.Spec.Replicas != 3 || rs.Annotations["kubernetes.io/change-cause"] != "second" ||
		rs.Spec.Template.Spec.Containers[0].Image != "busybox:1.36" {
		t.Errorf("revision 2 set: %+v", rs.ObjectMeta)
	}
	out, err := suite.RunKubectl(ctx, "-n", ns, "rollout", "history", "deployment/echo")
	if err != nil || !strings.Contains(out, "1         first") || !strings.Contains(out, "2         second") {
		t.Errorf("kubectl rollout history: %v\n%s", err, out)
	}
}

func TestRollbackReusesOldReplicaSet(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	suite.PlayKubelet(ctx, ns)
	d := newDeployment(ns, 2, "busybox:1.35")
	if err := suite.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(ctx, t, d, 30*time.Second)
	first := sets(ctx, t, ns)[0]
	setImage(ctx, t, d, "busybox:1.36", "second")
	waitRolledOut(ctx, t, d, 30*time.Second)

	if out, err := suite.RunKubectl(ctx, "-n", ns, "rollout", "undo", "deployment/echo"); err != nil {
		t.Fatalf("kubectl rollout undo: %v\n%s", err, out)
	}
	controllertest.Eventually(t, 30*time.Second, "rolled back onto the first replicaset", func() (bool, string) {
		var rs appsv1.ReplicaSet
		if err := suite.Client.Get(ctx, client.ObjectKeyFromObject(&first), &rs); err != nil {
			return false, err.Error()
		}
		got := getDeployment(ctx, t, d)
		return rs.Annotations["deployment.kubernetes.io/revision"] == "3" && *rs.Spec.Replicas == 2 &&
				got.Status.UpdatedReplicas == 2 && got.Status.AvailableReplicas == 2 && got.Status.Replicas == 2,
			fmt.Sprintf("first set annotations %v replicas %d; deployment %+v", rs.Annotations, *rs.Spec.Replicas, got.Status)
	})
	var rs appsv1.ReplicaSet
	if err := suite.Client.Get(ctx, client.ObjectKeyFromObject(&first), &rs); err != nil {
		t.Fatal(err)
	}
	if rs.UID != first.UID || rs.Annotations["deployment.kubernetes.io/revision-history"] != "1" {
		t.Errorf("rollback should reuse the first set with history 1: uid %s vs %s, annotations %v", rs.UID, first.UID, rs.Annotations)
	}
	if n := len(sets(ctx, t, ns)); n != 2 {
		t.Errorf("%d replicasets after rollback, want 2 (no new set)", n)
	}
	out, err := suite.RunKubectl(ctx, "-n", ns, "rollout", "history", "deployment/echo", "--revision=3")
	if err != nil || !strings.Contains(out, "busybox:1.35") {
		t.Errorf("kubectl rollout history --revision=3: %v\n%s", err, out)
	}
}

func TestRecreateStopsOldPodsFirst(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	suite.PlayKubelet(ctx, ns)
	d := newDeployment(ns, 2, "busybox:1.35")
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	if err := suite.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(ctx, t, d, 30*time.Second)
	setImage(ctx, t, d, "busybox:1.36", "second")
	controllertest.Eventually(t, 30*time.Second, "recreate done", func() (bool, string) {
		var pods corev1.PodList
		_ = suite.Client.List(ctx, &pods, client.InNamespace(ns))
		images := map[string]bool{}
		for _, p := range pods.Items {
			images[p.Spec.Containers[0].Image] = true
		}
		if len(images) > 1 {
			t.Fatalf("old and new pods at once under Recreate: %v", images)
		}
		got := getDeployment(ctx, t, d)
		return got.Status.UpdatedReplicas == 2 && got.Status.AvailableReplicas == 2 && got.Status.Replicas == 2 && images["busybox:1.36"],
			fmt.Sprintf("%+v %v", got.Status, images)
	})
}

func TestPausedAndHistoryLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	suite.PlayKubelet(ctx, ns)
	d := newDeployment(ns, 1, "busybox:1.35")
	d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	if err := suite.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(ctx, t, d, 30*time.Second)
	if out, err := suite.RunKubectl(ctx, "-n", ns, "rollout", "pause", "deployment/echo"); err != nil {
		t.Fatalf("pause: %v %s", err, out)
	}
	setImage(ctx, t, d, "busybox:1.36", "second")
	controllertest.Eventually(t, 10*time.Second, "paused condition", func() (bool, string) {
		got := getDeployment(ctx, t, d)
		p := condition(got, appsv1.DeploymentProgressing)
		return p != nil && p.Reason == "DeploymentPaused" && got.Status.ObservedGeneration == got.Generation, fmt.Sprintf("%+v", p)
	})
	if n := len(sets(ctx, t, ns)); n != 1 {
		t.Fatalf("paused deployment rolled out: %d replicasets", n)
	}
	if out, err := suite.RunKubectl(ctx, "-n", ns, "rollout", "resume", "deployment/echo"); err != nil {
		t.Fatalf("resume: %v %s", err, out)
	}
	waitRolledOut(ctx, t, d, 30*time.Second)
	setImage(ctx, t, d, "busybox:1.37", "third")
	waitRolledOut(ctx, t, d, 30*time.Second)
	controllertest.Eventually(t, 20*time.Second, "history trimmed to 1 old set", func() (bool, string) {
		list := sets(ctx, t, ns)
		var revs []string
		for _, rs := range list {
			if rs.DeletionTimestamp == nil {
				revs = append(revs, rs.Annotations["deployment.kubernetes.io/revision"])
			}
		}
		return len(revs) == 2, fmt.Sprint(revs)
	})
}

// The documented proportional scaling example: 10 replicas, maxSurge 3,
// maxUnavailable 2, a rollout stuck on an image that never gets ready, then
// a scale to 15 spreads the 5 new replicas 3 to the old set, 2 to the new.
func TestProportionalScalingDuringRollout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	// A kubelet under which only the old image ever becomes ready.
	go func() {
		for ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			var pods corev1.PodList
			if err := suite.Client.List(ctx, &pods, client.InNamespace(ns)); err != nil {
				continue
			}
			for i := range pods.Items {
				p := &pods.Items[i]
				if p.DeletionTimestamp != nil {
					_ = suite.Client.Delete(ctx, p, client.GracePeriodSeconds(0))
					continue
				}
				if p.Spec.Containers[0].Image == "busybox:1.35" && p.Status.Phase != corev1.PodRunning {
					_ = suite.MarkReady(ctx, p, "node-1")
				}
			}
		}
	}()
	d := newDeployment(ns, 10, "busybox:1.35")
	d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{
		MaxSurge: ptr.To(intstr.FromInt32(3)), MaxUnavailable: ptr.To(intstr.FromInt32(2)),
	}
	if err := suite.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	waitRolledOut(ctx, t, d, 40*time.Second)
	setImage(ctx, t, d, "busybox:does-not-start", "bad")
	sizes := func() (int32, int32) {
		var oldN, newN int32
		for _, rs := range sets(ctx, t, ns) {
			if rs.Spec.Template.Spec.Containers[0].Image == "busybox:1.35" {
				oldN = *rs.Spec.Replicas
			} else {
				newN = *rs.Spec.Replicas
			}
		}
		return oldN, newN
	}
	controllertest.Eventually(t, 30*time.Second, "rollout stuck at 8 old + 5 new", func() (bool, string) {
		o, n := sizes()
		return o == 8 && n == 5, fmt.Sprintf("old %d new %d", o, n)
	})
	cur := getDeployment(ctx, t, d)
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.Replicas = ptr.To[int32](15)
	if err := suite.Client.Patch(ctx, cur, patch); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 30*time.Second, "scaled proportionally to 11 old + 7 new", func() (bool, string) {
		o, n := sizes()
		return o == 11 && n == 7, fmt.Sprintf("old %d new %d", o, n)
	})
}

func TestProgressDeadlineExceeded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	// No kubelet: the pods never get ready.
	d := newDeployment(ns, 2, "busybox:1.35")
	d.Spec.ProgressDeadlineSeconds = ptr.To[int32](2)
	if err := suite.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 20*time.Second, "ProgressDeadlineExceeded", func() (bool, string) {
		got := getDeployment(ctx, t, d)
		p := condition(got, appsv1.DeploymentProgressing)
		a := condition(got, appsv1.DeploymentAvailable)
		return p != nil && p.Status == corev1.ConditionFalse && p.Reason == "ProgressDeadlineExceeded" &&
				strings.HasSuffix(p.Message, "has timed out progressing.") && a != nil && a.Reason == "MinimumReplicasUnavailable",
			fmt.Sprintf("%+v", got.Status.Conditions)
	})
	out, err := suite.RunKubectl(ctx, "-n", ns, "rollout", "status", "deployment/echo", "--timeout=10s")
	if err == nil || !strings.Contains(out, "exceeded its progress deadline") {
		t.Errorf("kubectl rollout status should fail on the deadline: %v\n%s", err, out)
	}
}
