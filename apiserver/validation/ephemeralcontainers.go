package validation

import (
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ephemeralContainerFields are the container fields an ephemeral container
// may set, by Go field name. The list allows rather than forbids, as
// upstream's does, so a field added to containers is refused here until
// someone decides debugging containers need it: ephemeral containers get no
// ports, probes, lifecycle hooks, resources or restart rules, because nothing
// the pod relies on may run in one.
var ephemeralContainerFields = sets.New(
	"Name", "Image", "Command", "Args", "WorkingDir", "EnvFrom", "Env", "VolumeMounts", "VolumeDevices",
	"TerminationMessagePath", "TerminationMessagePolicy", "ImagePullPolicy", "SecurityContext", "Stdin", "StdinOnce", "TTY",
)

var terminationMessagePolicies = sets.New(corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError)

// ephemeralContainers validates a pod spec's ephemeral containers at path:
// each is a valid container, named uniquely among all the pod's containers,
// targeting (if at all) one of its containers or init containers, with none
// of the fields ephemeral containers may not set and no subPath mounts.
func ephemeralContainers(s *corev1.PodSpec, path *field.Path, volumes sets.Set[string]) field.ErrorList {
	if len(s.EphemeralContainers) == 0 {
		return nil
	}
	var errs field.ErrorList
	others := sets.New[string]()
	for _, cs := range [][]corev1.Container{s.Containers, s.InitContainers} {
		for _, c := range cs {
			others.Insert(c.Name)
		}
	}
	names := others.Clone()
	for i := range s.EphemeralContainers {
		ec := &s.EphemeralContainers[i]
		c := &ec.EphemeralContainerCommon
		p := path.Index(i)

		// What every kind of container is checked for.
		if c.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		} else {
			for _, msg := range validation.IsDNS1123Label(c.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), c.Name, msg))
			}
		}
		if c.Image == "" {
			errs = append(errs, field.Required(p.Child("image"), ""))
		}
		switch {
		case c.TerminationMessagePolicy == "":
			errs = append(errs, field.Required(p.Child("terminationMessagePolicy"), ""))
		case !terminationMessagePolicies.Has(c.TerminationMessagePolicy):
			errs = append(errs, field.NotSupported(p.Child("terminationMessagePolicy"), c.TerminationMessagePolicy,
				[]corev1.TerminationMessagePolicy{corev1.TerminationMessageReadFile, corev1.TerminationMessageFallbackToLogsOnError}))
		}
		errs = append(errs, containerPorts(c.Ports, p.Child("ports"))...)
		errs = append(errs, envVars(c.Env, p.Child("env"))...)
		errs = append(errs, volumeMounts(c.VolumeMounts, volumes, p.Child("volumeMounts"))...)
		switch {
		case c.ImagePullPolicy == "":
			errs = append(errs, field.Required(p.Child("imagePullPolicy"), ""))
		case !pullPolicies.Has(c.ImagePullPolicy):
			errs = append(errs, supported(p.Child("imagePullPolicy"), c.ImagePullPolicy, pullPolicies))
		}

		// What a pod's containers (not a template's) are checked for.
		if c.Image != strings.TrimSpace(c.Image) {
			errs = append(errs, field.Invalid(p.Child("image"), c.Image, "must not have leading or trailing whitespace"))
		}

		// What only ephemeral containers are checked for.
		if names.Has(c.Name) {
			errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
		} else {
			names.Insert(c.Name)
		}
		if ec.TargetContainerName != "" && !others.Has(ec.TargetContainerName) {
			errs = append(errs, field.NotFound(p.Child("targetContainerName"), ec.TargetContainerName))
		}
		errs = append(errs, forbiddenEphemeralFields(c, p)...)
		// A subPath is a bind mount that lives until the pod does, and means
		// the container is part of the workload: neither suits a debugger.
		for j, m := range c.VolumeMounts {
			if m.SubPath != "" {
				errs = append(errs, field.Forbidden(p.Child("volumeMounts").Index(j).Child("subPath"), "cannot be set for an Ephemeral Container"))
			}
			if m.SubPathExpr != "" {
				errs = append(errs, field.Forbidden(p.Child("volumeMounts").Index(j).Child("subPathExpr"), "cannot be set for an Ephemeral Container"))
			}
		}
	}
	return errs
}

// forbiddenEphemeralFields refuses every field of c, in declaration order,
// that is set and not in ephemeralContainerFields.
func forbiddenEphemeralFields(c *corev1.EphemeralContainerCommon, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	v := reflect.ValueOf(c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if ephemeralContainerFields.Has(f.Name) || v.Field(i).IsZero() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		errs = append(errs, field.Forbidden(path.Child(name), "cannot be set for an Ephemeral Container"))
	}
	return errs
}

// PodEphemeralContainersUpdate validates an update through the
// ephemeralcontainers subresource, where p differs from old in
// spec.ephemeralContainers only: the pod stays valid, no ephemeral container
// is removed or changed (they are matched by name, since a patch need not keep
// their order), and a static pod's mirror gets none.
func PodEphemeralContainersUpdate(p, old *corev1.Pod) field.ErrorList {
	meta := field.NewPath("metadata")
	errs := apivalidation.ValidateObjectMetaUpdate(&p.ObjectMeta, &old.ObjectMeta, meta)
	errs = append(errs, apivalidation.ValidateObjectMeta(&p.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, meta)...)
	errs = append(errs, Pod(p)...)
	// The kubelet runs a static pod from its file, not from the API, so it
	// would never start containers added to the mirror: refuse them, alone.
	if _, mirror := old.Annotations[mirrorPodAnnotation]; mirror {
		return field.ErrorList{field.Forbidden(field.NewPath(""), "static pods do not support ephemeral containers")}
	}
	byName := make(map[string]*corev1.EphemeralContainer, len(p.Spec.EphemeralContainers))
	for i := range p.Spec.EphemeralContainers {
		byName[p.Spec.EphemeralContainers[i].Name] = &p.Spec.EphemeralContainers[i]
	}
	path := field.NewPath("spec", "ephemeralContainers")
	for _, was := range old.Spec.EphemeralContainers {
		now, ok := byName[was.Name]
		switch {
		case !ok:
			errs = append(errs, field.Forbidden(path, fmt.Sprintf("existing ephemeral containers %q may not be removed\n", was.Name)))
		case !apiequality.Semantic.DeepEqual(was, *now):
			errs = append(errs, field.Forbidden(path, fmt.Sprintf("existing ephemeral containers %q may not be changed\n%s", was.Name, objectDiff(was, *now))))
		}
	}
	return errs
}
