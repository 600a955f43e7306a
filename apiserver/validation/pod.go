package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// PodCreate validates a new Pod: a valid pod (Pod) that has no ephemeral
// containers yet, which only the ephemeralcontainers subresource adds.
func PodCreate(p *corev1.Pod) field.ErrorList {
	errs := Pod(p)
	if len(p.Spec.EphemeralContainers) > 0 {
		errs = append(errs, field.Forbidden(field.NewPath("spec", "ephemeralContainers"), "cannot be set on create"))
	}
	return errs
}

// Pod validates a Pod, new or updated.
func Pod(p *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	// A mirror pod stands for a static pod a kubelet runs: it is on a node.
	if v, mirror := p.Annotations[mirrorPodAnnotation]; mirror && p.Spec.NodeName == "" {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "annotations").Key(mirrorPodAnnotation), v, "must set spec.nodeName if mirror pod annotation is set"))
	}
	return append(errs, PodSpec(&p.Spec, field.NewPath("spec"))...)
}

// mirrorPodAnnotation marks a kubelet's mirror of a static pod.
const mirrorPodAnnotation = "kubernetes.io/config.mirror"

var (
	restartPolicies = sets.New(corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)
	dnsPolicies     = sets.New(corev1.DNSClusterFirst, corev1.DNSClusterFirstWithHostNet, corev1.DNSDefault, corev1.DNSNone)
	protocols       = sets.New(corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP)
	pullPolicies    = sets.New(corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever)
)

// PodSpec validates a pod spec at path.
func PodSpec(s *corev1.PodSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	volumes := sets.New[string]()
	for i, v := range s.Volumes {
		p := path.Child("volumes").Index(i).Child("name")
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(p, ""))
		case volumes.Has(v.Name):
			errs = append(errs, field.Duplicate(p, v.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(v.Name) {
				errs = append(errs, field.Invalid(p, v.Name, msg))
			}
		}
		volumes.Insert(v.Name)
	}
	if len(s.Containers) == 0 {
		errs = append(errs, field.Required(path.Child("containers"), ""))
	}
	names := sets.New[string]()
	errs = append(errs, containers(s.InitContainers, path.Child("initContainers"), names, volumes)...)
	errs = append(errs, containers(s.Containers, path.Child("containers"), names, volumes)...)
	errs = append(errs, ephemeralContainers(s, path.Child("ephemeralContainers"), volumes)...)
	if !restartPolicies.Has(s.RestartPolicy) {
		errs = append(errs, supported(path.Child("restartPolicy"), s.RestartPolicy, restartPolicies))
	}
	if !dnsPolicies.Has(s.DNSPolicy) {
		errs = append(errs, supported(path.Child("dnsPolicy"), s.DNSPolicy, dnsPolicies))
	}
	if s.TerminationGracePeriodSeconds != nil && *s.TerminationGracePeriodSeconds < 0 {
		errs = append(errs, field.Invalid(path.Child("terminationGracePeriodSeconds"), *s.TerminationGracePeriodSeconds, "must be greater than or equal to 0"))
	}
	if s.NodeName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(s.NodeName) {
			errs = append(errs, field.Invalid(path.Child("nodeName"), s.NodeName, msg))
		}
	}
	for k, v := range s.NodeSelector {
		_ = v
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(path.Child("nodeSelector"), k, msg))
		}
	}
	if s.PriorityClassName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(s.PriorityClassName) {
			errs = append(errs, field.Invalid(path.Child("priorityClassName"), s.PriorityClassName, msg))
		}
	}
	if s.PreemptionPolicy != nil {
		errs = append(errs, preemptionPolicy(s.PreemptionPolicy, path.Child("preemptionPolicy"))...)
	}
	return errs
}

func containers(cs []corev1.Container, path *field.Path, names, volumes sets.Set[string]) field.ErrorList {
	var errs field.ErrorList
	for i := range cs {
		c := &cs[i]
		p := path.Index(i)
		switch {
		case c.Name == "":
			errs = append(errs, field.Required(p.Child("name"), ""))
		case names.Has(c.Name):
			errs = append(errs, field.Duplicate(p.Child("name"), c.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(c.Name) {
				errs = append(errs, field.Invalid(p.Child("name"), c.Name, msg))
			}
		}
		names.Insert(c.Name)
		if strings.TrimSpace(c.Image) == "" {
			errs = append(errs, field.Required(p.Child("image"), ""))
		} else if c.Image != strings.TrimSpace(c.Image) {
			errs = append(errs, field.Invalid(p.Child("image"), c.Image, "must not have leading or trailing whitespace"))
		}
		if c.ImagePullPolicy != "" && !pullPolicies.Has(c.ImagePullPolicy) {
			errs = append(errs, supported(p.Child("imagePullPolicy"), c.ImagePullPolicy, pullPolicies))
		}
		errs = append(errs, containerPorts(c.Ports, p.Child("ports"))...)
		errs = append(errs, envVars(c.Env, p.Child("env"))...)
		errs = append(errs, volumeMounts(c.VolumeMounts, volumes, p.Child("volumeMounts"))...)
	}
	return errs
}

func containerPorts(ports []corev1.ContainerPort, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, port := range ports {
		p := path.Index(i)
		if port.Name != "" {
			if msgs := validation.IsValidPortName(port.Name); len(msgs) > 0 {
				for _, msg := range msgs {
					errs = append(errs, field.Invalid(p.Child("name"), port.Name, msg))
				}
			} else if names.Has(port.Name) {
				errs = append(errs, field.Duplicate(p.Child("name"), port.Name))
			}
			names.Insert(port.Name)
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(p.Child("containerPort"), ""))
		} else {
			errs = append(errs, portNum(p.Child("containerPort"), port.ContainerPort)...)
		}
		if port.HostPort != 0 {
			errs = append(errs, portNum(p.Child("hostPort"), port.HostPort)...)
		}
		switch {
		case port.Protocol == "":
			errs = append(errs, field.Required(p.Child("protocol"), ""))
		case !protocols.Has(port.Protocol):
			errs = append(errs, supported(p.Child("protocol"), port.Protocol, protocols))
		}
	}
	return errs
}

func envVars(env []corev1.EnvVar, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, e := range env {
		if e.Name == "" {
			errs = append(errs, field.Required(path.Index(i).Child("name"), ""))
		}
	}
	return errs
}

// volumeMounts checks each mount names a pod volume at a path of its own.
func volumeMounts(mounts []corev1.VolumeMount, volumes sets.Set[string], path *field.Path) field.ErrorList {
	var errs field.ErrorList
	paths := sets.New[string]()
	for i, m := range mounts {
		p := path.Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(p.Child("name"), ""))
		}
		if !volumes.Has(m.Name) {
			errs = append(errs, field.NotFound(p.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(p.Child("mountPath"), ""))
		}
		if paths.Has(m.MountPath) {
			errs = append(errs, field.Invalid(p.Child("mountPath"), m.MountPath, "must be unique"))
		}
		paths.Insert(m.MountPath)
	}
	return errs
}

func portNum(p *field.Path, port int32) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsValidPortNum(int(port)) {
		errs = append(errs, field.Invalid(p, port, msg))
	}
	return errs
}

func supported[T ~string](p *field.Path, v T, allowed sets.Set[T]) *field.Error {
	vals := make([]string, 0, allowed.Len())
	for _, a := range sets.List(allowed) {
		vals = append(vals, string(a))
	}
	return field.NotSupported(p, v, vals)
}

// updatablePodSpecFields is what a pod update may change, as upstream words it.
var updatablePodSpecFields = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`," +
	"`spec.tolerations` (only additions to existing tolerations)," +
	"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

// PodUpdate enforces pod spec immutability: only images, activeDeadlineSeconds,
// added tolerations and the grace period may change. Ephemeral containers
// change only through the ephemeralcontainers subresource
// (PodEphemeralContainersUpdate).
func PodUpdate(p, old *corev1.Pod) field.ErrorList {
	// The new spec with what may change put back as it was: any difference
	// left is a change that is not allowed.
	munged := p.Spec.DeepCopy()
	for i := range munged.Containers {
		if i < len(old.Spec.Containers) {
			munged.Containers[i].Image = old.Spec.Containers[i].Image
		}
	}
	for i := range munged.InitContainers {
		if i < len(old.Spec.InitContainers) {
			munged.InitContainers[i].Image = old.Spec.InitContainers[i].Image
		}
	}
	munged.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	munged.TerminationGracePeriodSeconds = old.Spec.TerminationGracePeriodSeconds
	if len(p.Spec.Tolerations) >= len(old.Spec.Tolerations) {
		munged.Tolerations = old.Spec.Tolerations
	}
	// The scheduler's binding sets nodeName once; updates may not move a pod.
	if old.Spec.NodeName == "" {
		munged.NodeName = ""
	}
	if apiequality.Semantic.DeepEqual(munged, &old.Spec) {
		return nil
	}
	return field.ErrorList{field.Forbidden(field.NewPath("spec"), fmt.Sprintf("pod updates may not change fields other than %s\n%s",
		updatablePodSpecFields, objectDiff(old.Spec, *munged)))}
}
