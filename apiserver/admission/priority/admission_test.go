package priority

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// plugin returns a plugin whose cache holds cached and whose client serves
// live.
func plugin(t *testing.T, cached []*schedulingv1.PriorityClass, live ...runtime.Object) *Plugin {
	t.Helper()
	f := informers.NewSharedInformerFactory(fake.NewClientset(), 0)
	p := New()
	p.SetExternalKubeClientSet(fake.NewClientset(live...))
	p.SetExternalKubeInformerFactory(f)
	for _, pc := range cached {
		if err := f.Scheduling().V1().PriorityClasses().Informer().GetIndexer().Add(pc); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.ValidateInitialization(); err != nil {
		t.Fatal(err)
	}
	return p
}

func class(name string, value int32, globalDefault bool, policy corev1.PreemptionPolicy) *schedulingv1.PriorityClass {
	return &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value, GlobalDefault: globalDefault, PreemptionPolicy: &policy}
}

func newPod(mutate func(*corev1.PodSpec)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if mutate != nil {
		mutate(&p.Spec)
	}
	return p
}

func podAttributes(pod, old *corev1.Pod, op admission.Operation, subresource string) admission.Attributes {
	var oldObj runtime.Object
	if old != nil {
		oldObj = old
	}
	return admission.NewAttributesRecord(pod, oldObj, corev1.SchemeGroupVersion.WithKind("Pod"), "ns", pod.Name,
		corev1.SchemeGroupVersion.WithResource("pods"), subresource, op, nil, false, nil)
}

func classAttributes(pc, old *schedulingv1.PriorityClass, op admission.Operation) admission.Attributes {
	var oldObj runtime.Object
	if old != nil {
		oldObj = old
	}
	return admission.NewAttributesRecord(pc, oldObj, schedulingv1.SchemeGroupVersion.WithKind("PriorityClass"), "", pc.Name,
		schedulingv1.SchemeGroupVersion.WithResource("priorityclasses"), "", op, nil, false, nil)
}

// describe renders the pod's priority fields.
func describe(p *corev1.Pod) string {
	priority, policy := "<nil>", "<nil>"
	if p.Spec.Priority != nil {
		priority = fmt.Sprint(*p.Spec.Priority)
	}
	if p.Spec.PreemptionPolicy != nil {
		policy = string(*p.Spec.PreemptionPolicy)
	}
	return p.Spec.PriorityClassName + "/" + priority + "/" + policy
}

func TestAdmitNewPod(t *testing.T) {
	high := class("high", 1000, false, corev1.PreemptLowerPriority)
	never := class("never", 50, false, corev1.PreemptNever)
	defaultA := class("default-a", 100, true, corev1.PreemptLowerPriority)
	defaultB := class("default-b", 20, true, corev1.PreemptNever)
	for _, tc := range []struct {
		name   string
		cached []*schedulingv1.PriorityClass
		live   []runtime.Object
		spec   func(*corev1.PodSpec)
		// want is the pod's class/priority/policy after admission, or the
		// refusal's message.
		want      string
		forbidden bool
	}{
		{name: "no class, no default", cached: []*schedulingv1.PriorityClass{high}, want: "/0/PreemptLowerPriority"},
		{name: "no class, a default", cached: []*schedulingv1.PriorityClass{high, defaultA}, want: "default-a/100/PreemptLowerPriority"},
		{name: "two defaults: the lower", cached: []*schedulingv1.PriorityClass{defaultA, defaultB}, want: "default-b/20/Never"},
		{name: "named class", cached: []*schedulingv1.PriorityClass{high, defaultA},
			spec: func(s *corev1.PodSpec) { s.PriorityClassName = "high" }, want: "high/1000/PreemptLowerPriority"},
		{name: "class with Never", cached: []*schedulingv1.PriorityClass{never},
			spec: func(s *corev1.PodSpec) { s.PriorityClassName = "never" }, want: "never/50/Never"},
		{name: "class not cached yet", live: []runtime.Object{never},
			spec: func(s *corev1.PodSpec) { s.PriorityClassName = "never" }, want: "never/50/Never"},
		{name: "missing class", cached: []*schedulingv1.PriorityClass{high},
			spec: func(s *corev1.PodSpec) { s.PriorityClassName = "nope" }, forbidden: true,
			want: `pods "p" is forbidden: no PriorityClass with name nope was found`},
		{name: "matching priority", cached: []*schedulingv1.PriorityClass{high},
			spec: func(s *corev1.PodSpec) { s.PriorityClassName, s.Priority = "high", ptr.To[int32](1000) }, want: "high/1000/PreemptLowerPriority"},
		{name: "other priority", cached: []*schedulingv1.PriorityClass{high},
			spec: func(s *corev1.PodSpec) { s.PriorityClassName, s.Priority = "high", ptr.To[int32](5) }, forbidden: true,
			want: `pods "p" is forbidden: the integer value of priority (5) must not be provided in pod spec; priority admission controller computed 1000 from the given PriorityClass name`},
		{name: "own priority, no class", spec: func(s *corev1.PodSpec) { s.Priority = ptr.To[int32](7) }, forbidden: true,
			want: `pods "p" is forbidden: the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name`},
		{name: "matching policy", cached: []*schedulingv1.PriorityClass{never},
			spec: func(s *corev1.PodSpec) {
				s.PriorityClassName, s.PreemptionPolicy = "never", ptr.To(corev1.PreemptNever)
			}, want: "never/50/Never"},
		{name: "other policy", cached: []*schedulingv1.PriorityClass{high},
			spec: func(s *corev1.PodSpec) { s.PriorityClassName, s.PreemptionPolicy = "high", ptr.To(corev1.PreemptNever) }, forbidden: true,
			want: `pods "p" is forbidden: the string value of PreemptionPolicy (Never) must not be provided in pod spec; priority admission controller computed PreemptLowerPriority from the given PriorityClass name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := plugin(t, tc.cached, tc.live...)
			pod := newPod(tc.spec)
			err := p.Admit(context.Background(), podAttributes(pod, nil, admission.Create, ""), nil)
			switch {
			case tc.forbidden:
				if !apierrors.IsForbidden(err) || err.Error() != tc.want {
					t.Errorf("err = %v, want 403 %q", err, tc.want)
				}
			case err != nil:
				t.Errorf("err = %v", err)
			case describe(pod) != tc.want:
				t.Errorf("pod = %s, want %s", describe(pod), tc.want)
			}
		})
	}
}

func TestAdmitUpdateKeepsPriority(t *testing.T) {
	p := plugin(t, []*schedulingv1.PriorityClass{class("default-a", 100, true, corev1.PreemptLowerPriority)})
	old := newPod(func(s *corev1.PodSpec) {
		s.Priority, s.PreemptionPolicy = ptr.To[int32](0), ptr.To(corev1.PreemptNever)
	})
	pod := newPod(nil)
	if err := p.Admit(context.Background(), podAttributes(pod, old, admission.Update, ""), nil); err != nil {
		t.Fatal(err)
	}
	if got := describe(pod); got != "/0/Never" {
		t.Errorf("updated pod = %s, want the old priority kept (/0/Never)", got)
	}
	// What the update sets is left to validation, which refuses a change.
	pod = newPod(func(s *corev1.PodSpec) { s.Priority = ptr.To[int32](9) })
	if err := p.Admit(context.Background(), podAttributes(pod, old, admission.Update, ""), nil); err != nil {
		t.Fatal(err)
	}
	if got := describe(pod); got != "/9/Never" {
		t.Errorf("updated pod = %s, want /9/Never", got)
	}
}

func TestAdmitIgnoresSubresourcesAndOtherKinds(t *testing.T) {
	p := plugin(t, nil)
	pod := newPod(func(s *corev1.PodSpec) { s.PriorityClassName = "nope" })
	for _, sub := range []string{"status", "ephemeralcontainers", "binding"} {
		if err := p.Admit(context.Background(), podAttributes(pod, pod, admission.Update, sub), nil); err != nil {
			t.Errorf("pods/%s: %v", sub, err)
		}
	}
	if describe(pod) != "nope/<nil>/<nil>" {
		t.Errorf("subresource requests changed the pod: %s", describe(pod))
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "ns"}}
	a := admission.NewAttributesRecord(cm, nil, corev1.SchemeGroupVersion.WithKind("ConfigMap"), "ns", "c",
		corev1.SchemeGroupVersion.WithResource("configmaps"), "", admission.Create, nil, false, nil)
	if err := p.Admit(context.Background(), a, nil); err != nil {
		t.Errorf("configmap: %v", err)
	}
	if err := p.Validate(context.Background(), a, nil); err != nil {
		t.Errorf("configmap: %v", err)
	}
}

func TestValidateOneGlobalDefault(t *testing.T) {
	defaultA := class("default-a", 100, true, corev1.PreemptLowerPriority)
	high := class("high", 1000, false, corev1.PreemptLowerPriority)
	asDefault := func(pc *schedulingv1.PriorityClass) *schedulingv1.PriorityClass {
		pc = pc.DeepCopy()
		pc.GlobalDefault = true
		return pc
	}
	const refused = `priorityclasses.scheduling.k8s.io "%s" is forbidden: PriorityClass default-a is already marked as default. Only one default can exist`
	for _, tc := range []struct {
		name   string
		cached []*schedulingv1.PriorityClass
		attrs  admission.Attributes
		want   string
	}{
		{"first default", []*schedulingv1.PriorityClass{high}, classAttributes(asDefault(class("new", 1, false, corev1.PreemptNever)), nil, admission.Create), ""},
		{"second default", []*schedulingv1.PriorityClass{defaultA}, classAttributes(asDefault(class("new", 1, false, corev1.PreemptNever)), nil, admission.Create), fmt.Sprintf(refused, "new")},
		{"not a default", []*schedulingv1.PriorityClass{defaultA}, classAttributes(class("new", 1, false, corev1.PreemptNever), nil, admission.Create), ""},
		{"update the default", []*schedulingv1.PriorityClass{defaultA, high}, classAttributes(defaultA, defaultA, admission.Update), ""},
		{"make another the default", []*schedulingv1.PriorityClass{defaultA, high}, classAttributes(asDefault(high), high, admission.Update), fmt.Sprintf(refused, "high")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := plugin(t, tc.cached).Validate(context.Background(), tc.attrs, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("err = %v", err)
			case tc.want != "" && (!apierrors.IsForbidden(err) || err.Error() != tc.want):
				t.Errorf("err = %v, want 403 %q", err, tc.want)
			}
		})
	}
}

func TestInitializationAndWrongObjects(t *testing.T) {
	if err := New().ValidateInitialization(); err == nil {
		t.Error("an uninitialized plugin passed ValidateInitialization")
	}
	p := plugin(t, nil)
	// An object of another type under pods or priorityclasses is a bad request.
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}
	for _, resource := range []string{"pods", "priorityclasses"} {
		gvr := corev1.SchemeGroupVersion.WithResource(resource)
		if resource == "priorityclasses" {
			gvr = schedulingv1.SchemeGroupVersion.WithResource(resource)
		}
		a := admission.NewAttributesRecord(cm, nil, gvr.GroupVersion().WithKind("X"), "", "c", gvr, "", admission.Create, nil, false, nil)
		err := p.Admit(context.Background(), a, nil)
		if resource == "priorityclasses" {
			err = p.Validate(context.Background(), a, nil)
		}
		if !apierrors.IsBadRequest(err) {
			t.Errorf("%s: err = %v, want 400", resource, err)
		}
	}
}
