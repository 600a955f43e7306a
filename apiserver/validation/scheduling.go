package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Upstream's priority values and names (k8s.io/kubernetes pkg/apis/scheduling).
const (
	// HighestUserDefinablePriority is the highest value a class not named
	// system-* may have; higher ones are the system's.
	HighestUserDefinablePriority = int32(1000000000)
	// SystemCriticalPriority is where the system classes' values begin.
	SystemCriticalPriority = 2 * HighestUserDefinablePriority
	// SystemPriorityClassPrefix is reserved for the system classes' names.
	SystemPriorityClassPrefix = "system-"
	// SystemNodeCritical is the class of pods that must not leave their node.
	SystemNodeCritical = SystemPriorityClassPrefix + "node-critical"
	// SystemClusterCritical is the class of pods the cluster needs somewhere.
	SystemClusterCritical = SystemPriorityClassPrefix + "cluster-critical"
)

// preemptionPolicies are the values a preemptionPolicy may take, in the
// order upstream lists them in its message.
var preemptionPolicies = []corev1.PreemptionPolicy{corev1.PreemptLowerPriority, corev1.PreemptNever}

// SystemPriorityClasses returns the classes every cluster has from the start,
// as upstream defines them; they are the only classes whose names may begin
// with system-. Each call returns new objects.
func SystemPriorityClasses() []*schedulingv1.PriorityClass {
	return []*schedulingv1.PriorityClass{
		{ObjectMeta: metav1.ObjectMeta{Name: SystemNodeCritical}, Value: SystemCriticalPriority + 1000,
			Description: "Used for system critical pods that must not be moved from their current node."},
		{ObjectMeta: metav1.ObjectMeta{Name: SystemClusterCritical}, Value: SystemCriticalPriority,
			Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
	}
}

// IsSystemPriorityClass tells whether name is one of SystemPriorityClasses.
func IsSystemPriorityClass(name string) bool {
	return name == SystemNodeCritical || name == SystemClusterCritical
}

// knownSystemPriorityClass reports why a class named system-* is not exactly
// one of the system classes, in upstream's words; nil when it is.
func knownSystemPriorityClass(pc *schedulingv1.PriorityClass) error {
	for _, spc := range SystemPriorityClasses() {
		if spc.Name != pc.Name {
			continue
		}
		if spc.Value != pc.Value {
			return fmt.Errorf("value of %v PriorityClass must be %v", spc.Name, spc.Value)
		}
		if spc.GlobalDefault != pc.GlobalDefault {
			return fmt.Errorf("globalDefault of %v PriorityClass must be %v", spc.Name, spc.GlobalDefault)
		}
		return nil
	}
	return fmt.Errorf("%v is not a known system priority class", pc.Name)
}

// PriorityClass validates a new scheduling.k8s.io/v1 PriorityClass: a
// system-* name is only for the system classes (with their values), other
// classes may not go above HighestUserDefinablePriority, and the preemption
// policy is one of upstream's. That a second class may not be the global
// default is the Priority admission plugin's rule, as upstream.
func PriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	var errs field.ErrorList
	if strings.HasPrefix(pc.Name, SystemPriorityClassPrefix) {
		if err := knownSystemPriorityClass(pc); err != nil {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "name"),
				"priority class names with '"+SystemPriorityClassPrefix+"' prefix are reserved for system use only. error: "+err.Error()))
		}
	} else if pc.Value > HighestUserDefinablePriority {
		errs = append(errs, field.Forbidden(field.NewPath("value"), fmt.Sprintf("maximum allowed value of a user defined priority is %v", HighestUserDefinablePriority)))
	}
	if pc.PreemptionPolicy != nil {
		errs = append(errs, preemptionPolicy(pc.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
	}
	return errs
}

// PriorityClassUpdate keeps a class's value and preemption policy. As
// upstream, an update is not validated as a new class is: the system classes
// may change their description, labels and globalDefault.
func PriorityClassUpdate(pc, old *schedulingv1.PriorityClass) field.ErrorList {
	var errs field.ErrorList
	if pc.Value != old.Value {
		errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
	}
	return append(errs, apivalidation.ValidateImmutableField(pc.PreemptionPolicy, old.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
}

// preemptionPolicy validates a pod's or a class's preemption policy.
func preemptionPolicy(p *corev1.PreemptionPolicy, path *field.Path) field.ErrorList {
	switch *p {
	case corev1.PreemptLowerPriority, corev1.PreemptNever:
		return nil
	case "":
		return field.ErrorList{field.Required(path, "")}
	default:
		return field.ErrorList{field.NotSupported(path, p, preemptionPolicies)}
	}
}
