package statefulset

import (
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func testSet(replicas int32, opts ...func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "set", Generation: 2},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To(replicas),
			ServiceName: "web",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.35"}}},
			},
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)}},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// live is pod ordinal of set at revision, created; ready says Running and Ready.
func live(set *appsv1.StatefulSet, ord int, rev string, ready bool) *corev1.Pod {
	p := newPod(set, metav1.OwnerReference{}, ord, rev)
	p.UID = types.UID(p.Name)
	p.Status.Phase = corev1.PodPending
	if ready {
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	}
	return p
}

func describe(steps []step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, []string{"create", "delete", "fix"}[s.kind]+" "+s.pod.Name+" "+revisionOf(s.pod))
	}
	return out
}

func TestPlan(t *testing.T) {
	parallel := func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }
	partition := func(p int32) func(*appsv1.StatefulSet) {
		return func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To(p) }
	}
	onDelete := func(s *appsv1.StatefulSet) {
		s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
	}
	set3 := testSet(3)
	failed := live(set3, 1, "A", false)
	failed.Status.Phase = corev1.PodFailed
	cases := []struct {
		name   string
		set    *appsv1.StatefulSet
		pods   func(*appsv1.StatefulSet) []*corev1.Pod
		update string
		want   []string
	}{
		{"ordered: first pod only", testSet(3), func(*appsv1.StatefulSet) []*corev1.Pod { return nil }, "A",
			[]string{"create web-0 A"}},
		{"ordered: waits for web-0 to be ready", testSet(3), func(s *appsv1.StatefulSet) []*corev1.Pod { return []*corev1.Pod{live(s, 0, "A", false)} }, "A",
			nil},
		{"ordered: next once ready", testSet(3), func(s *appsv1.StatefulSet) []*corev1.Pod { return []*corev1.Pod{live(s, 0, "A", true)} }, "A",
			[]string{"create web-1 A"}},
		{"parallel: all at once", testSet(3, parallel), func(*appsv1.StatefulSet) []*corev1.Pod { return nil }, "A",
			[]string{"create web-0 A", "create web-1 A", "create web-2 A"}},
		{"ordered scale down: highest first, one at a time", testSet(1), func(s *appsv1.StatefulSet) []*corev1.Pod {
			return []*corev1.Pod{live(s, 0, "A", true), live(s, 1, "A", true), live(s, 2, "A", true)}
		}, "A", []string{"delete web-2 A"}},
		{"rolling update: highest ordinal first", testSet(3), func(s *appsv1.StatefulSet) []*corev1.Pod {
			return []*corev1.Pod{live(s, 0, "A", true), live(s, 1, "A", true), live(s, 2, "A", true)}
		}, "B", []string{"delete web-2 A"}},
		{"rolling update: waits for the updated pod", testSet(3), func(s *appsv1.StatefulSet) []*corev1.Pod {
			return []*corev1.Pod{live(s, 0, "A", true), live(s, 1, "A", true), live(s, 2, "B", false)}
		}, "B", nil},
		{"rolling update: then the next", testSet(3), func(s *appsv1.StatefulSet) []*corev1.Pod {
			return []*corev1.Pod{live(s, 0, "A", true), live(s, 1, "A", true), live(s, 2, "B", true)}
		}, "B", []string{"delete web-1 A"}},
		{"partition 2 keeps web-0 and web-1", testSet(3, partition(2)), func(s *appsv1.StatefulSet) []*corev1.Pod {
			return []*corev1.Pod{live(s, 0, "A", true), live(s, 1, "A", true), live(s, 2, "B", true)}
		}, "B", nil},
		{"OnDelete never deletes for an update", testSet(3, onDelete), func(s *appsv1.StatefulSet) []*corev1.Pod {
			return []*corev1.Pod{live(s, 0, "A", true), live(s, 1, "A", true), live(s, 2, "A", true)}
		}, "B", nil},
		{"failed pod is replaced", set3, func(s *appsv1.StatefulSet) []*corev1.Pod {
			return []*corev1.Pod{live(s, 0, "A", true), failed, live(s, 2, "A", true)}
		}, "A", []string{"delete web-1 A"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			revs := revisions{current: tc.set, update: tc.set, currentName: "A", updateName: tc.update}
			_, steps := plan(tc.set, tc.pods(tc.set), revs, metav1.OwnerReference{}, time.Now())
			if got := describe(steps); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("steps = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestPlanStatus(t *testing.T) {
	// Partition 1 holds web-0 at A, so nothing is deleted.
	set := testSet(2, func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](1) })
	revs := revisions{current: set, update: set, currentName: "A", updateName: "B"}
	st, _ := plan(set, []*corev1.Pod{live(set, 0, "A", true), live(set, 1, "B", true)}, revs, metav1.OwnerReference{}, time.Now())
	if st.Replicas != 2 || st.ReadyReplicas != 2 || st.CurrentReplicas != 1 || st.UpdatedReplicas != 1 || st.CurrentRevision != "A" || st.ObservedGeneration != 2 {
		t.Errorf("mid-update status = %+v", st)
	}
	st, _ = plan(set, []*corev1.Pod{live(set, 0, "B", true), live(set, 1, "B", true)}, revs, metav1.OwnerReference{}, time.Now())
	if st.CurrentRevision != "B" || st.CurrentReplicas != 2 || st.UpdatedReplicas != 2 {
		t.Errorf("completed update status = %+v", st)
	}
}

func TestIdentityAndClaims(t *testing.T) {
	set := testSet(3, func(s *appsv1.StatefulSet) {
		s.Spec.VolumeClaimTemplates = []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}}
	})
	p := newPod(set, metav1.OwnerReference{}, 2, "web-abc")
	if p.Name != "web-2" || p.Spec.Hostname != "web-2" || p.Spec.Subdomain != "web" {
		t.Errorf("identity: name %s hostname %s subdomain %s", p.Name, p.Spec.Hostname, p.Spec.Subdomain)
	}
	want := map[string]string{"app": "web", "statefulset.kubernetes.io/pod-name": "web-2", "apps.kubernetes.io/pod-index": "2", "controller-revision-hash": "web-abc"}
	if !reflect.DeepEqual(p.Labels, want) {
		t.Errorf("labels = %v", p.Labels)
	}
	if len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-web-2" {
		t.Errorf("volumes = %+v", p.Spec.Volumes)
	}
	claims := claimsFor(set, 2)
	if claims[0].Name != "data-web-2" || claims[0].Labels["app"] != "web" {
		t.Errorf("claim = %+v", claims[0].ObjectMeta)
	}
	if _, ord := ordinalOf(&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "my-web-12"}}); ord != 12 {
		t.Errorf("ordinal = %d", ord)
	}
}

func TestRevisionPatchRoundTrip(t *testing.T) {
	old := testSet(3)
	patch, err := patchOf(old)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(patch), `{"spec":{"template":{"$patch":"replace","metadata":`) {
		t.Errorf("patch = %s", patch)
	}
	cur := old.DeepCopy()
	cur.Spec.Template.Spec.Containers[0].Image = "busybox:1.36"
	cur.Spec.Template.Labels["extra"] = "x"
	restored, err := applyRevision(cur, patch)
	if err != nil {
		t.Fatal(err)
	}
	if img := restored.Spec.Template.Spec.Containers[0].Image; img != "busybox:1.35" || restored.Spec.Template.Labels["extra"] != "" {
		t.Errorf("restored template = %+v", restored.Spec.Template)
	}
	if *restored.Spec.Replicas != 3 {
		t.Error("only the template is restored")
	}
}

func TestPlanMinReadySeconds(t *testing.T) {
	set := testSet(2, func(s *appsv1.StatefulSet) { s.Spec.MinReadySeconds = 10 })
	now := time.Now()
	web0 := live(set, 0, "A", true)
	web0.Status.Conditions[0].LastTransitionTime = metav1.NewTime(now.Add(-5 * time.Second))
	revs := revisions{current: set, update: set, currentName: "A", updateName: "A"}
	st, steps := plan(set, []*corev1.Pod{web0}, revs, metav1.OwnerReference{}, now)
	if len(steps) != 0 || st.ReadyReplicas != 1 || st.AvailableReplicas != 0 {
		t.Errorf("ready 5s of 10: steps %v, status %+v", describe(steps), st)
	}
	st, steps = plan(set, []*corev1.Pod{web0}, revs, metav1.OwnerReference{}, now.Add(6*time.Second))
	if got := describe(steps); len(got) != 1 || got[0] != "create web-1 A" || st.AvailableReplicas != 1 {
		t.Errorf("ready 11s of 10: steps %v, status %+v", got, st)
	}
}
