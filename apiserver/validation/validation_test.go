package validation

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func fields(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field)
	}
	return out
}

func goodPodSpec() corev1.PodSpec {
	return corev1.PodSpec{
		RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst,
		Containers: []corev1.Container{{Name: "c", Image: "busybox", Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}}}},
	}
}

func TestPodSpec(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.PodSpec)
		want   []string
	}{
		{"valid", func(*corev1.PodSpec) {}, nil},
		{"no containers", func(s *corev1.PodSpec) { s.Containers = nil }, []string{"spec.containers"}},
		{"no name", func(s *corev1.PodSpec) { s.Containers[0].Name = "" }, []string{"spec.containers[0].name"}},
		{"no image", func(s *corev1.PodSpec) { s.Containers[0].Image = "" }, []string{"spec.containers[0].image"}},
		{"duplicate name", func(s *corev1.PodSpec) { s.Containers = append(s.Containers, s.Containers[0]) }, []string{"spec.containers[1].name"}},
		{"bad port", func(s *corev1.PodSpec) { s.Containers[0].Ports[0].ContainerPort = 70000 }, []string{"spec.containers[0].ports[0].containerPort"}},
		{"unknown volume", func(s *corev1.PodSpec) {
			s.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "nope", MountPath: "/x"}}
		}, []string{"spec.containers[0].volumeMounts[0].name"}},
		{"bad restart policy", func(s *corev1.PodSpec) { s.RestartPolicy = "Sometimes" }, []string{"spec.restartPolicy"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := goodPodSpec()
			tc.mutate(&s)
			got := fields(PodSpec(&s, field.NewPath("spec")))
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("errors on %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDeploymentSelector(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}},
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}}, Spec: goodPodSpec()},
	}}
	if errs := Deployment(d); len(errs) != 0 {
		t.Fatalf("valid deployment: %v", errs)
	}
	bad := d.DeepCopy()
	bad.Spec.Template.Labels["app"] = "b"
	if got := fields(Deployment(bad)); len(got) != 1 || got[0] != "spec.template.metadata.labels" {
		t.Errorf("mismatch errors on %v", got)
	}
	bad = d.DeepCopy()
	bad.Spec.Selector = nil
	if got := fields(Deployment(bad)); len(got) != 1 || got[0] != "spec.selector" {
		t.Errorf("missing selector errors on %v", got)
	}
	moved := d.DeepCopy()
	moved.Spec.Selector.MatchLabels["app"] = "z"
	if got := fields(DeploymentUpdate(moved, d)); len(got) != 1 || got[0] != "spec.selector" {
		t.Errorf("selector change errors on %v", got)
	}
	never := d.DeepCopy()
	never.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
	if got := fields(Deployment(never)); len(got) != 1 || got[0] != "spec.template.spec.restartPolicy" {
		t.Errorf("restartPolicy Never errors on %v", got)
	}
}

func TestPodUpdateImmutability(t *testing.T) {
	old := &corev1.Pod{Spec: goodPodSpec()}
	img := old.DeepCopy()
	img.Spec.Containers[0].Image = "busybox:2"
	if errs := PodUpdate(img, old); len(errs) != 0 {
		t.Errorf("image change rejected: %v", errs)
	}
	port := old.DeepCopy()
	port.Spec.Containers[0].Ports[0].ContainerPort = 81
	if got := fields(PodUpdate(port, old)); len(got) != 1 || got[0] != "spec" {
		t.Errorf("port change errors on %v", got)
	}
}

func TestStorageClass(t *testing.T) {
	good := func() *storagev1.StorageClass {
		return &storagev1.StorageClass{Provisioner: "Example.COM/fast", Parameters: map[string]string{"a": "b"},
			ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimDelete), VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*storagev1.StorageClass)
		want   []string
	}{
		{"valid (provisioner case-insensitive)", func(*storagev1.StorageClass) {}, nil},
		{"no provisioner", func(c *storagev1.StorageClass) { c.Provisioner = "" }, []string{"provisioner"}},
		{"bad provisioner", func(c *storagev1.StorageClass) { c.Provisioner = "a/b/c" }, []string{"provisioner"}},
		{"recycle", func(c *storagev1.StorageClass) { c.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimRecycle) }, []string{"reclaimPolicy"}},
		{"no binding mode", func(c *storagev1.StorageClass) { c.VolumeBindingMode = nil }, []string{"volumeBindingMode"}},
		{"empty key", func(c *storagev1.StorageClass) { c.Parameters[""] = "x" }, []string{"parameters"}},
		{"topology without values", func(c *storagev1.StorageClass) {
			c.AllowedTopologies = []corev1.TopologySelectorTerm{{MatchLabelExpressions: []corev1.TopologySelectorLabelRequirement{{Key: "zone"}}}}
		}, []string{"allowedTopologies[0].matchLabelExpressions[0].values"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.mutate(c)
			got := fields(StorageClass(c))
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Errorf("errors on %v, want %v", got, tc.want)
			}
		})
	}
	old := good()
	changed := good()
	changed.Parameters["a"] = "c"
	changed.Provisioner = "other"
	if got := fields(StorageClassUpdate(changed, old)); len(got) != 2 || got[0] != "parameters" || got[1] != "provisioner" {
		t.Errorf("update errors on %v", got)
	}
}

func TestBindings(t *testing.T) {
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "system:r"}
	sa := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "sa"}
	for _, tc := range []struct {
		name string
		errs field.ErrorList
		want []string
	}{
		{"role binding", RoleBinding(&rbacv1.RoleBinding{RoleRef: ref, Subjects: []rbacv1.Subject{sa}}), nil},
		{"no role name", RoleBinding(&rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role"}}), []string{"roleRef.name"}},
		{"wrong ref group", RoleBinding(&rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{APIGroup: "x", Kind: "Role", Name: "r"}}), []string{"roleRef.apiGroup"}},
		{"user without group", RoleBinding(&rbacv1.RoleBinding{RoleRef: ref, Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "u"}}}), []string{"subjects[0].apiGroup"}},
		{"cluster binding to a role", ClusterRoleBinding(&rbacv1.ClusterRoleBinding{RoleRef: ref}), []string{"roleRef.kind"}},
		{"cluster binding sa without namespace", ClusterRoleBinding(&rbacv1.ClusterRoleBinding{
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "c"}, Subjects: []rbacv1.Subject{sa}}), []string{"subjects[0].namespace"}},
		{"roleRef change", RoleBindingUpdate(&rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{Name: "a"}}, &rbacv1.RoleBinding{RoleRef: rbacv1.RoleRef{Name: "b"}}), []string{"roleRef"}},
		{"empty aggregation", ClusterRole(&rbacv1.ClusterRole{AggregationRule: &rbacv1.AggregationRule{}}), []string{"aggregationRule.clusterRoleSelectors"}},
	} {
		if got := fields(tc.errs); len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
			t.Errorf("%s: errors on %v, want %v", tc.name, got, tc.want)
		}
	}
	if msgs := RBACName("system:controller:x", false); len(msgs) != 0 {
		t.Errorf("colon name rejected: %v", msgs)
	}
	if msgs := RBACName("a/b", false); len(msgs) == 0 {
		t.Error("slash name accepted")
	}
}
