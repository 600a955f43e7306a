package validation

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// causes renders errors as "type field: detail", as a 422's causes read.
func causes(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%s %s: %s", string(e.Type), e.Field, e.Detail))
	}
	return out
}

// debugPod is a valid stored pod (defaulted as the API defaults it) with
// one container, one init container and one volume.
func debugPod() *corev1.Pod {
	s := goodPodSpec()
	s.InitContainers = []corev1.Container{{Name: "init", Image: "busybox"}}
	s.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", ResourceVersion: "1"}, Spec: s}
}

// debugger is an ephemeral container as the API stores it after defaulting.
func debugger(name string) corev1.EphemeralContainer {
	return corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: name, Image: "busybox", Stdin: true, TTY: true,
		ImagePullPolicy: corev1.PullAlways, TerminationMessagePath: corev1.TerminationMessagePathDefault,
		TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}}
}

func TestPodEphemeralContainersUpdate(t *testing.T) {
	const forbidden = "cannot be set for an Ephemeral Container"
	withOne := func(p *corev1.Pod) { p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("debugger")} }
	for _, tc := range []struct {
		name string
		old  func(*corev1.Pod) // what the stored pod has beyond debugPod
		edit func(*corev1.Pod) // the update, on a copy of the stored pod
		want []string
	}{
		{"add one", nil, withOne, nil},
		{"add one targeting the container", nil, func(p *corev1.Pod) {
			withOne(p)
			p.Spec.EphemeralContainers[0].TargetContainerName = "c"
		}, nil},
		{"add one mounting a volume", nil, func(p *corev1.Pod) {
			withOne(p)
			p.Spec.EphemeralContainers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
		}, nil},
		{"add a second one", withOne, func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, debugger("second"))
		}, nil},
		{"reorder", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("a"), debugger("b")}
		}, func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("b"), debugger("a")}
		}, nil},
		{"remove", withOne, func(p *corev1.Pod) { p.Spec.EphemeralContainers = nil },
			[]string{"FieldValueForbidden spec.ephemeralContainers: existing ephemeral containers \"debugger\" may not be removed\n"}},
		{"rename", withOne, func(p *corev1.Pod) { p.Spec.EphemeralContainers[0].Name = "other" },
			[]string{"FieldValueForbidden spec.ephemeralContainers: existing ephemeral containers \"debugger\" may not be removed\n"}},
		{"change", withOne, func(p *corev1.Pod) { p.Spec.EphemeralContainers[0].Image = "busybox:1.36" },
			[]string{"FieldValueForbidden spec.ephemeralContainers: existing ephemeral containers \"debugger\" may not be changed\n" +
				"@@ -1,6 +1,6 @@\n {\n  \"Name\": \"debugger\",\n- \"Image\": \"busybox\",\n+ \"Image\": \"busybox:1.36\",\n  \"Command\": null,\n  \"Args\": null,\n  \"WorkingDir\": \"\",\n"}},
		{"same name as a container", nil, func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("c")}
		}, []string{"FieldValueDuplicate spec.ephemeralContainers[0].name: "}},
		{"same name as an init container", nil, func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("init")}
		}, []string{"FieldValueDuplicate spec.ephemeralContainers[0].name: "}},
		{"same name twice", nil, func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("d"), debugger("d")}
		}, []string{"FieldValueDuplicate spec.ephemeralContainers[1].name: "}},
		{"name not a DNS label", nil, func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("Debug_1")}
		}, []string{"FieldValueInvalid spec.ephemeralContainers[0].name: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', " +
			"and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"}},
		{"no name", nil, func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("")}
		}, []string{"FieldValueRequired spec.ephemeralContainers[0].name: "}},
		{"no image", nil, func(p *corev1.Pod) {
			withOne(p)
			p.Spec.EphemeralContainers[0].Image = ""
		}, []string{"FieldValueRequired spec.ephemeralContainers[0].image: "}},
		{"image with spaces", nil, func(p *corev1.Pod) {
			withOne(p)
			p.Spec.EphemeralContainers[0].Image = " busybox"
		}, []string{"FieldValueInvalid spec.ephemeralContainers[0].image: must not have leading or trailing whitespace"}},
		{"bad pull policy", nil, func(p *corev1.Pod) {
			withOne(p)
			p.Spec.EphemeralContainers[0].ImagePullPolicy = "Sometimes"
		}, []string{`FieldValueNotSupported spec.ephemeralContainers[0].imagePullPolicy: supported values: "Always", "IfNotPresent", "Never"`}},
		{"bad termination message policy", nil, func(p *corev1.Pod) {
			withOne(p)
			p.Spec.EphemeralContainers[0].TerminationMessagePolicy = "Never"
		}, []string{`FieldValueNotSupported spec.ephemeralContainers[0].terminationMessagePolicy: supported values: "File", "FallbackToLogsOnError"`}},
		{"target not in the pod", nil, func(p *corev1.Pod) {
			withOne(p)
			p.Spec.EphemeralContainers[0].TargetContainerName = "nope"
		}, []string{"FieldValueNotFound spec.ephemeralContainers[0].targetContainerName: "}},
		{"target another ephemeral container", withOne, func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, debugger("second"))
			p.Spec.EphemeralContainers[1].TargetContainerName = "debugger"
		}, []string{"FieldValueNotFound spec.ephemeralContainers[1].targetContainerName: "}},
		{"ports", nil, func(p *corev1.Pod) {
			withOne(p)
			p.Spec.EphemeralContainers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}}
		}, []string{"FieldValueForbidden spec.ephemeralContainers[0].ports: " + forbidden}},
		{"bad ports are checked too", nil, func(p *corev1.Pod) {
			withOne(p)
			p.Spec.EphemeralContainers[0].Ports = []corev1.ContainerPort{{Protocol: corev1.ProtocolTCP}}
		}, []string{"FieldValueRequired spec.ephemeralContainers[0].ports[0].containerPort: ", "FieldValueForbidden spec.ephemeralContainers[0].ports: " + forbidden}},
		{"probes, lifecycle, resources, restart", nil, func(p *corev1.Pod) {
			withOne(p)
			c := &p.Spec.EphemeralContainers[0]
			probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
			c.StartupProbe, c.ReadinessProbe, c.LivenessProbe = probe, probe, probe
			c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
			c.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}
			c.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
			c.ResizePolicy = []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceCPU, RestartPolicy: corev1.NotRequired}}
		}, []string{
			"FieldValueForbidden spec.ephemeralContainers[0].resources: " + forbidden,
			"FieldValueForbidden spec.ephemeralContainers[0].resizePolicy: " + forbidden,
			"FieldValueForbidden spec.ephemeralContainers[0].restartPolicy: " + forbidden,
			"FieldValueForbidden spec.ephemeralContainers[0].livenessProbe: " + forbidden,
			"FieldValueForbidden spec.ephemeralContainers[0].readinessProbe: " + forbidden,
			"FieldValueForbidden spec.ephemeralContainers[0].startupProbe: " + forbidden,
			"FieldValueForbidden spec.ephemeralContainers[0].lifecycle: " + forbidden,
		}},
		{"empty lists still count as set", nil, func(p *corev1.Pod) {
			withOne(p)
			p.Spec.EphemeralContainers[0].Ports = []corev1.ContainerPort{}
		}, []string{"FieldValueForbidden spec.ephemeralContainers[0].ports: " + forbidden}},
		{"mount of no volume", nil, func(p *corev1.Pod) {
			withOne(p)
			p.Spec.EphemeralContainers[0].VolumeMounts = []corev1.VolumeMount{{Name: "nope", MountPath: "/x"}}
		}, []string{"FieldValueNotFound spec.ephemeralContainers[0].volumeMounts[0].name: "}},
		{"subPath", nil, func(p *corev1.Pod) {
			withOne(p)
			p.Spec.EphemeralContainers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/x", SubPath: "a"}, {Name: "data", MountPath: "/y", SubPathExpr: "$(A)"}}
		}, []string{
			"FieldValueForbidden spec.ephemeralContainers[0].volumeMounts[0].subPath: " + forbidden,
			"FieldValueForbidden spec.ephemeralContainers[0].volumeMounts[1].subPathExpr: " + forbidden,
		}},
		{"mirror pod", func(p *corev1.Pod) {
			p.Annotations = map[string]string{mirrorPodAnnotation: "hash"}
			p.Spec.NodeName = "node-a"
		}, func(p *corev1.Pod) {
			withOne(p)
			p.Spec.EphemeralContainers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}}
		}, []string{"FieldValueForbidden []: static pods do not support ephemeral containers"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := debugPod()
			if tc.old != nil {
				tc.old(old)
			}
			p := old.DeepCopy()
			tc.edit(p)
			got := causes(PodEphemeralContainersUpdate(p, old))
			if strings.Join(got, "\n|") != strings.Join(tc.want, "\n|") {
				t.Errorf("errors:\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

// TestEphemeralContainersElsewhere: a pod is created without ephemeral
// containers, a plain update may not add them, and templates have none.
func TestEphemeralContainersElsewhere(t *testing.T) {
	p := debugPod()
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("debugger")}
	if got := causes(PodCreate(p)); len(got) != 1 || got[0] != "FieldValueForbidden spec.ephemeralContainers: cannot be set on create" {
		t.Errorf("create: %q", got)
	}
	// An invalid one is reported as such too, as upstream validates them first.
	p.Spec.EphemeralContainers[0].Name = "c"
	if got := causes(PodCreate(p)); len(got) != 2 || got[0] != "FieldValueDuplicate spec.ephemeralContainers[0].name: " {
		t.Errorf("create with a duplicate: %q", got)
	}
	if got := causes(PodCreate(debugPod())); len(got) != 0 {
		t.Errorf("create without: %q", got)
	}

	old := debugPod()
	p = old.DeepCopy()
	p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("debugger")}
	got := causes(PodUpdate(p, old))
	if want := "FieldValueForbidden spec: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`," +
		"`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` " +
		"(allow it to be set to 1 if it was previously negative)\n"; len(got) != 1 || !strings.HasPrefix(got[0], want) || !strings.Contains(got[0], `+ "EphemeralContainers": [`) {
		t.Errorf("update adding one: %q, want %q and a diff", got, want)
	}
	// Removing one by update is refused alike.
	if got := causes(PodUpdate(old, p)); len(got) != 1 || !strings.HasPrefix(got[0], "FieldValueForbidden spec: pod updates may not change") {
		t.Errorf("update removing one: %q", got)
	}

	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}},
		Strategy: appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}}, Spec: goodPodSpec()},
	}}
	d.Spec.Template.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("debugger")}
	if got := causes(Deployment(d)); len(got) != 1 || got[0] != "FieldValueForbidden spec.template.spec.ephemeralContainers: ephemeral containers not allowed in pod template" {
		t.Errorf("template: %q", got)
	}
}

// TestObjectDiff: values render as upstream renders its internal types, by
// Go field name, embedded structs inlined, quantities as themselves.
func TestObjectDiff(t *testing.T) {
	a := corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "x",
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}
	b := a.DeepCopy()
	b.Name = "y"
	got := objectDiff(a, *b)
	want := "@@ -1,5 +1,5 @@\n {\n- \"Name\": \"x\",\n+ \"Name\": \"y\",\n  \"Image\": \"\",\n  \"Command\": null,\n  \"Args\": null,\n"
	if got != want {
		t.Errorf("diff:\n%s\nwant\n%s", got, want)
	}
	json, err := goJSON(reflect.ValueOf(a))
	if err != nil || !strings.Contains(string(json), `"Resources":{"Limits":{"cpu":"100m"},"Requests":null,"Claims":null}`) ||
		!strings.HasSuffix(string(json), `"TTY":false,"TargetContainerName":""}`) {
		t.Errorf("rendered %s (%v)", json, err)
	}
}
