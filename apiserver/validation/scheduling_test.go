package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func TestPriorityClass(t *testing.T) {
	class := func(name string, value int32, mutate func(*schedulingv1.PriorityClass)) *schedulingv1.PriorityClass {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value, PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority)}
		if mutate != nil {
			mutate(pc)
		}
		return pc
	}
	for _, tc := range []struct {
		name string
		pc   *schedulingv1.PriorityClass
		// want is the one error expected ("" for none).
		want string
	}{
		{"user class", class("high", 1000, nil), ""},
		{"highest user value", class("max", HighestUserDefinablePriority, nil), ""},
		{"negative value", class("low", -10, nil), ""},
		{"no policy (not defaulted)", class("low", 1, func(pc *schedulingv1.PriorityClass) { pc.PreemptionPolicy = nil }), ""},
		{"never", class("low", 1, func(pc *schedulingv1.PriorityClass) { pc.PreemptionPolicy = ptr.To(corev1.PreemptNever) }), ""},
		{"system node critical", class(SystemNodeCritical, 2000001000, nil), ""},
		{"system cluster critical", class(SystemClusterCritical, 2000000000, nil), ""},
		{"too high", class("high", HighestUserDefinablePriority+1, nil),
			"value: Forbidden: maximum allowed value of a user defined priority is 1000000000"},
		{"system value under a user name", class("impostor", 2000001000, nil),
			"value: Forbidden: maximum allowed value of a user defined priority is 1000000000"},
		{"unknown system name", class("system-foo", 1, nil),
			"metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-foo is not a known system priority class"},
		{"system class, wrong value", class(SystemNodeCritical, 5, nil),
			"metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: value of system-node-critical PriorityClass must be 2000001000"},
		{"system class as global default", class(SystemClusterCritical, 2000000000, func(pc *schedulingv1.PriorityClass) { pc.GlobalDefault = true }),
			"metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: globalDefault of system-cluster-critical PriorityClass must be false"},
		{"unknown policy", class("p", 1, func(pc *schedulingv1.PriorityClass) {
			pc.PreemptionPolicy = ptr.To(corev1.PreemptionPolicy("Sometimes"))
		}),
			`preemptionPolicy: Unsupported value: "Sometimes": supported values: "PreemptLowerPriority", "Never"`},
		{"empty policy", class("p", 1, func(pc *schedulingv1.PriorityClass) { pc.PreemptionPolicy = ptr.To(corev1.PreemptionPolicy("")) }),
			"preemptionPolicy: Required value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := PriorityClass(tc.pc)
			switch {
			case tc.want == "" && len(errs) > 0:
				t.Errorf("errors: %v", errs)
			case tc.want != "" && (len(errs) != 1 || errs[0].Error() != tc.want):
				t.Errorf("errors: %v\nwant: %s", errs, tc.want)
			}
		})
	}
}

func TestPriorityClassUpdate(t *testing.T) {
	old := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: SystemNodeCritical}, Value: 2000001000,
		PreemptionPolicy: ptr.To(corev1.PreemptLowerPriority)}
	for _, tc := range []struct {
		name   string
		mutate func(*schedulingv1.PriorityClass)
		want   []string
	}{
		// Upstream does not validate an update as a new class: a system
		// class may become the global default (the admission plugin alone
		// keeps it the only one) and change its description.
		{"description and globalDefault", func(pc *schedulingv1.PriorityClass) { pc.Description, pc.GlobalDefault = "changed", true }, nil},
		{"value", func(pc *schedulingv1.PriorityClass) { pc.Value = 1 }, []string{"value: Forbidden: may not be changed in an update."}},
		{"policy", func(pc *schedulingv1.PriorityClass) { pc.PreemptionPolicy = ptr.To(corev1.PreemptNever) },
			[]string{`preemptionPolicy: Invalid value: "Never": field is immutable`}},
		{"both", func(pc *schedulingv1.PriorityClass) { pc.Value, pc.PreemptionPolicy = 1, nil },
			[]string{"value: Forbidden: may not be changed in an update.", "preemptionPolicy: Invalid value: null: field is immutable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc := old.DeepCopy()
			tc.mutate(pc)
			var got []string
			for _, e := range PriorityClassUpdate(pc, old) {
				got = append(got, e.Error())
			}
			if len(got) != len(tc.want) {
				t.Fatalf("errors: %q\nwant: %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("error %d: %s\nwant: %s", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestPodSpecPriorityFields(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.PodSpec)
		want   string
	}{
		{"class name", func(s *corev1.PodSpec) { s.PriorityClassName = "high" }, ""},
		{"bad class name", func(s *corev1.PodSpec) { s.PriorityClassName = "Bad_Name" }, "spec.priorityClassName"},
		{"never", func(s *corev1.PodSpec) { s.PreemptionPolicy = ptr.To(corev1.PreemptNever) }, ""},
		{"bad policy", func(s *corev1.PodSpec) { s.PreemptionPolicy = ptr.To(corev1.PreemptionPolicy("x")) }, "spec.preemptionPolicy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := goodPodSpec()
			tc.mutate(&s)
			got := fields(PodSpec(&s, field.NewPath("spec")))
			if (tc.want == "" && len(got) > 0) || (tc.want != "" && (len(got) != 1 || got[0] != tc.want)) {
				t.Errorf("errors on %v, want %q", got, tc.want)
			}
		})
	}
}

func TestSystemPriorityClassesAreValid(t *testing.T) {
	for _, pc := range SystemPriorityClasses() {
		if !IsSystemPriorityClass(pc.Name) {
			t.Errorf("%s is not a system class", pc.Name)
		}
		if errs := PriorityClass(pc); len(errs) > 0 {
			t.Errorf("%s: %v", pc.Name, errs)
		}
	}
	if IsSystemPriorityClass("system-foo") {
		t.Error("system-foo is a system class")
	}
}
