package statefulset_test

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
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeseed/kubeseed/test/controllertest"
)

var suite controllertest.Suite

func TestMain(m *testing.M) {
	os.Exit(controllertest.Run(m, &suite, "statefulset", "garbagecollector"))
}

func newSet(ns string, replicas int32) *appsv1.StatefulSet {
	labels := map[string]string{"app": "web"}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "web"},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To(replicas),
			ServiceName: "web",
			Selector:    &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "busybox:1.35"}}},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: "data"},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
}

func podNames(ctx context.Context, ns string) []string {
	var pods corev1.PodList
	_ = suite.Client.List(ctx, &pods, client.InNamespace(ns))
	var out []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p.Name)
		}
	}
	sort.Strings(out)
	return out
}

func getSet(ctx context.Context, t *testing.T, s *appsv1.StatefulSet) *appsv1.StatefulSet {
	t.Helper()
	var got appsv1.StatefulSet
	if err := suite.Client.Get(ctx, client.ObjectKeyFromObject(s), &got); err != nil {
		t.Fatal(err)
	}
	return &got
}

func TestOrderedCreationIdentityAndClaims(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	set := newSet(ns, 3)
	if err := suite.Client.Create(ctx, set); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		name := fmt.Sprintf("web-%d", i)
		controllertest.Eventually(t, 15*time.Second, name+" created", func() (bool, string) {
			names := podNames(ctx, ns)
			return len(names) == i+1 && names[i] == name, fmt.Sprint(names)
		})
		// OrderedReady: nothing more until this pod is ready.
		time.Sleep(300 * time.Millisecond)
		if names := podNames(ctx, ns); len(names) != i+1 {
			t.Fatalf("created %v before %s was ready", names, name)
		}
		var p corev1.Pod
		if err := suite.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &p); err != nil {
			t.Fatal(err)
		}
		if p.Spec.Hostname != name || p.Spec.Subdomain != "web" || p.Labels["statefulset.kubernetes.io/pod-name"] != name ||
			p.Labels["apps.kubernetes.io/pod-index"] != fmt.Sprint(i) || p.Labels["controller-revision-hash"] == "" {
			t.Errorf("pod %s identity: hostname %q subdomain %q labels %v", name, p.Spec.Hostname, p.Spec.Subdomain, p.Labels)
		}
		if v := p.Spec.Volumes; len(v) == 0 || v[0].PersistentVolumeClaim == nil || v[0].PersistentVolumeClaim.ClaimName != "data-"+name {
			t.Errorf("pod %s volumes %+v", name, v)
		}
		if err := suite.MarkReady(ctx, &p, "node-1"); err != nil {
			t.Fatal(err)
		}
	}
	var claims corev1.PersistentVolumeClaimList
	if err := suite.Client.List(ctx, &claims, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var claimNames []string
	for _, c := range claims.Items {
		claimNames = append(claimNames, c.Name)
	}
	sort.Strings(claimNames)
	if strings.Join(claimNames, ",") != "data-web-0,data-web-1,data-web-2" {
		t.Errorf("claims = %v", claimNames)
	}
	controllertest.Eventually(t, 15*time.Second, "status ready", func() (bool, string) {
		got := getSet(ctx, t, set)
		s := got.Status
		return s.Replicas == 3 && s.ReadyReplicas == 3 && s.AvailableReplicas == 3 && s.CurrentReplicas == 3 && s.UpdatedReplicas == 3 &&
			s.CurrentRevision != "" && s.CurrentRevision == s.UpdateRevision && s.ObservedGeneration == got.Generation, fmt.Sprintf("%+v", s)
	})
	var revs appsv1.ControllerRevisionList
	if err := suite.Client.List(ctx, &revs, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	got := getSet(ctx, t, set)
	if len(revs.Items) != 1 || revs.Items[0].Name != got.Status.UpdateRevision || revs.Items[0].Revision != 1 || !metav1.IsControlledBy(&revs.Items[0], got) {
		t.Errorf("revisions = %+v", revs.Items)
	}
}

func TestRollingUpdatePartitionAndRollback(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	suite.PlayKubelet(ctx, ns)
	set := newSet(ns, 3)
	set.Spec.VolumeClaimTemplates = nil
	if err := suite.Client.Create(ctx, set); err != nil {
		t.Fatal(err)
	}
	if out, err := suite.RunKubectl(ctx, "-n", ns, "rollout", "status", "statefulset/web", "--timeout=30s"); err != nil {
		t.Fatalf("rollout status: %v\n%s", err, out)
	}
	first := getSet(ctx, t, set).Status.CurrentRevision

	cur := getSet(ctx, t, set)
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](2)}
	cur.Spec.Template.Spec.Containers[0].Image = "busybox:1.36"
	if err := suite.Client.Patch(ctx, cur, patch); err != nil {
		t.Fatal(err)
	}
	images := func() map[string]string {
		var pods corev1.PodList
		_ = suite.Client.List(ctx, &pods, client.InNamespace(ns))
		out := map[string]string{}
		for _, p := range pods.Items {
			if p.DeletionTimestamp == nil {
				out[p.Name] = p.Spec.Containers[0].Image
			}
		}
		return out
	}
	controllertest.Eventually(t, 30*time.Second, "only web-2 updated", func() (bool, string) {
		im := images()
		s := getSet(ctx, t, set).Status
		return im["web-2"] == "busybox:1.36" && im["web-1"] == "busybox:1.35" && im["web-0"] == "busybox:1.35" &&
			s.UpdatedReplicas == 1 && s.ReadyReplicas == 3, fmt.Sprintf("%v %+v", im, s)
	})
	time.Sleep(500 * time.Millisecond)
	if im := images(); im["web-1"] != "busybox:1.35" {
		t.Fatalf("partition 2 updated web-1: %v", im)
	}

	cur = getSet(ctx, t, set)
	patch = client.MergeFrom(cur.DeepCopy())
	cur.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](0)
	if err := suite.Client.Patch(ctx, cur, patch); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 30*time.Second, "all updated", func() (bool, string) {
		s := getSet(ctx, t, set).Status
		return s.UpdatedReplicas == 3 && s.CurrentRevision == s.UpdateRevision && s.CurrentRevision != first && s.ReadyReplicas == 3,
			fmt.Sprintf("%v %+v", images(), s)
	})
	out, err := suite.RunKubectl(ctx, "-n", ns, "rollout", "history", "statefulset/web")
	if err != nil || !strings.Contains(out, "\n1 ") || !strings.Contains(out, "\n2 ") {
		t.Errorf("rollout history: %v\n%s", err, out)
	}
	if out, err := suite.RunKubectl(ctx, "-n", ns, "rollout", "undo", "statefulset/web"); err != nil {
		t.Fatalf("rollout undo: %v\n%s", err, out)
	}
	controllertest.Eventually(t, 30*time.Second, "rolled back onto the first revision", func() (bool, string) {
		s := getSet(ctx, t, set).Status
		im := images()
		return s.CurrentRevision == first && s.UpdateRevision == first && s.UpdatedReplicas == 3 &&
			im["web-0"] == "busybox:1.35" && im["web-2"] == "busybox:1.35", fmt.Sprintf("%v %+v", im, s)
	})
	var rev appsv1.ControllerRevision
	if err := suite.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: first}, &rev); err != nil || rev.Revision != 3 {
		t.Errorf("first revision should now be number 3: %v %d", err, rev.Revision)
	}
}

func TestScaleDownInReverseKeepsClaims(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	suite.PlayKubelet(ctx, ns)
	set := newSet(ns, 3)
	if err := suite.Client.Create(ctx, set); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 30*time.Second, "3 ready", func() (bool, string) {
		s := getSet(ctx, t, set).Status
		return s.ReadyReplicas == 3, fmt.Sprintf("%+v", s)
	})
	cur := getSet(ctx, t, set)
	patch := client.MergeFrom(cur.DeepCopy())
	cur.Spec.Replicas = ptr.To[int32](1)
	if err := suite.Client.Patch(ctx, cur, patch); err != nil {
		t.Fatal(err)
	}
	var seen [][]string
	controllertest.Eventually(t, 30*time.Second, "scaled to 1", func() (bool, string) {
		names := podNames(ctx, ns)
		if len(seen) == 0 || strings.Join(seen[len(seen)-1], ",") != strings.Join(names, ",") {
			seen = append(seen, names)
		}
		return strings.Join(names, ",") == "web-0", fmt.Sprint(names)
	})
	for _, names := range seen {
		if strings.Join(names, ",") == "web-0,web-2" {
			t.Errorf("web-1 went before web-2: %v", seen)
		}
	}
	var claims corev1.PersistentVolumeClaimList
	_ = suite.Client.List(ctx, &claims, client.InNamespace(ns))
	if len(claims.Items) != 3 {
		t.Errorf("%d claims after scale-down, want 3 (Retain)", len(claims.Items))
	}
}

func TestParallelCreatesAllAtOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	set := newSet(ns, 3)
	set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
	set.Spec.VolumeClaimTemplates = nil
	if err := suite.Client.Create(ctx, set); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 15*time.Second, "3 pods without any ready", func() (bool, string) {
		names := podNames(ctx, ns)
		return strings.Join(names, ",") == "web-0,web-1,web-2", fmt.Sprint(names)
	})
}
