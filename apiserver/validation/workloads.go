package validation

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// selectorAndTemplate checks what every pod controller shares: a non-empty
// selector that matches the template's labels, and a valid pod template.
func selectorAndTemplate(sel *metav1.LabelSelector, tmpl *corev1.PodTemplateSpec, spec *field.Path, kind string, restart ...corev1.RestartPolicy) field.ErrorList {
	var errs field.ErrorList
	selPath := spec.Child("selector")
	if sel == nil {
		errs = append(errs, field.Required(selPath, ""))
	} else {
		errs = append(errs, metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, selPath)...)
		if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
			errs = append(errs, field.Invalid(selPath, sel, "empty selector is invalid for "+kind))
		}
	}
	errs = append(errs, template(sel, tmpl, spec.Child("template"), restart...)...)
	return errs
}

func template(sel *metav1.LabelSelector, tmpl *corev1.PodTemplateSpec, path *field.Path, restart ...corev1.RestartPolicy) field.ErrorList {
	var errs field.ErrorList
	labelsPath := path.Child("metadata", "labels")
	errs = append(errs, metav1validation.ValidateLabels(tmpl.Labels, labelsPath)...)
	errs = append(errs, apivalidation.ValidateAnnotations(tmpl.Annotations, path.Child("metadata", "annotations"))...)
	if sel != nil {
		if s, err := metav1.LabelSelectorAsSelector(sel); err == nil && !s.Empty() && !s.Matches(labels.Set(tmpl.Labels)) {
			errs = append(errs, field.Invalid(labelsPath, tmpl.Labels, "`selector` does not match template `labels`"))
		}
	}
	errs = append(errs, PodSpec(&tmpl.Spec, path.Child("spec"))...)
	if len(tmpl.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(path.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	if len(restart) > 0 && !sets.New(restart...).Has(tmpl.Spec.RestartPolicy) {
		errs = append(errs, supported(path.Child("spec", "restartPolicy"), tmpl.Spec.RestartPolicy, sets.New(restart...)))
	}
	return errs
}

func replicas(n *int32, path *field.Path) field.ErrorList {
	if n != nil && *n < 0 {
		return field.ErrorList{field.Invalid(path, *n, "must be greater than or equal to 0")}
	}
	return nil
}

func immutableSelector(sel, old *metav1.LabelSelector, spec *field.Path) field.ErrorList {
	return apivalidation.ValidateImmutableField(sel, old, spec.Child("selector"))
}

var spec = field.NewPath("spec")

// Deployment validates an apps/v1 Deployment.
func Deployment(d *appsv1.Deployment) field.ErrorList {
	errs := replicas(d.Spec.Replicas, spec.Child("replicas"))
	errs = append(errs, selectorAndTemplate(d.Spec.Selector, &d.Spec.Template, spec, "deployment", corev1.RestartPolicyAlways)...)
	if t := d.Spec.Strategy.Type; t != appsv1.RecreateDeploymentStrategyType && t != appsv1.RollingUpdateDeploymentStrategyType {
		errs = append(errs, supported(spec.Child("strategy", "type"), t,
			sets.New(appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType)))
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType && d.Spec.Strategy.RollingUpdate != nil {
		errs = append(errs, field.Forbidden(spec.Child("strategy", "rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'"))
	}
	return errs
}

// DeploymentUpdate checks what may not change on a Deployment.
func DeploymentUpdate(d, old *appsv1.Deployment) field.ErrorList {
	return immutableSelector(d.Spec.Selector, old.Spec.Selector, spec)
}

// ReplicaSet validates an apps/v1 ReplicaSet.
func ReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	errs := replicas(rs.Spec.Replicas, spec.Child("replicas"))
	return append(errs, selectorAndTemplate(rs.Spec.Selector, &rs.Spec.Template, spec, "replicaset", corev1.RestartPolicyAlways)...)
}

// ReplicaSetUpdate checks what may not change on a ReplicaSet.
func ReplicaSetUpdate(rs, old *appsv1.ReplicaSet) field.ErrorList {
	return immutableSelector(rs.Spec.Selector, old.Spec.Selector, spec)
}

// StatefulSet validates an apps/v1 StatefulSet.
func StatefulSet(s *appsv1.StatefulSet) field.ErrorList {
	errs := replicas(s.Spec.Replicas, spec.Child("replicas"))
	return append(errs, selectorAndTemplate(s.Spec.Selector, &s.Spec.Template, spec, "statefulset", corev1.RestartPolicyAlways)...)
}

// StatefulSetUpdate allows upstream's mutable fields only in spirit: the
// selector stays fixed.
func StatefulSetUpdate(s, old *appsv1.StatefulSet) field.ErrorList {
	return immutableSelector(s.Spec.Selector, old.Spec.Selector, spec)
}

// DaemonSet validates an apps/v1 DaemonSet.
func DaemonSet(d *appsv1.DaemonSet) field.ErrorList {
	return selectorAndTemplate(d.Spec.Selector, &d.Spec.Template, spec, "daemonset", corev1.RestartPolicyAlways)
}

// DaemonSetUpdate keeps the selector fixed.
func DaemonSetUpdate(d, old *appsv1.DaemonSet) field.ErrorList {
	return immutableSelector(d.Spec.Selector, old.Spec.Selector, spec)
}

// Job validates a batch/v1 Job (after the registry generated its selector).
func Job(j *batchv1.Job) field.ErrorList {
	errs := jobSpec(&j.Spec, spec)
	return errs
}

func jobSpec(s *batchv1.JobSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, replicas(s.Parallelism, path.Child("parallelism"))...)
	errs = append(errs, replicas(s.Completions, path.Child("completions"))...)
	if s.BackoffLimit != nil && *s.BackoffLimit < 0 {
		errs = append(errs, field.Invalid(path.Child("backoffLimit"), *s.BackoffLimit, "must be greater than or equal to 0"))
	}
	errs = append(errs, template(s.Selector, &s.Template, path.Child("template"), corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)...)
	return errs
}

// JobUpdate keeps the selector and template fixed, as upstream does for
// running jobs.
func JobUpdate(j, old *batchv1.Job) field.ErrorList {
	errs := immutableSelector(j.Spec.Selector, old.Spec.Selector, spec)
	errs = append(errs, apivalidation.ValidateImmutableField(j.Spec.Completions, old.Spec.Completions, spec.Child("completions"))...)
	return errs
}

// CronJob validates a batch/v1 CronJob.
func CronJob(c *batchv1.CronJob) field.ErrorList {
	var errs field.ErrorList
	if c.Spec.Schedule == "" {
		errs = append(errs, field.Required(spec.Child("schedule"), ""))
	}
	policies := sets.New(batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent)
	if !policies.Has(c.Spec.ConcurrencyPolicy) {
		errs = append(errs, supported(spec.Child("concurrencyPolicy"), c.Spec.ConcurrencyPolicy, policies))
	}
	jt := spec.Child("jobTemplate", "spec")
	errs = append(errs, template(nil, &c.Spec.JobTemplate.Spec.Template, jt.Child("template"), corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)...)
	return errs
}
