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

// Pod validates a Pod.
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
		portNames := sets.New[string]()
		for j, port := range c.Ports {
			pp := p.Child("ports").Index(j)
			if port.Name != "" {
				for _, msg := range validation.IsValidPortName(port.Name) {
					errs = append(errs, field.Invalid(pp.Child("name"), port.Name, msg))
				}
				if portNames.Has(port.Name) {
					errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
				}
				portNames.Insert(port.Name)
			}
			if port.ContainerPort == 0 {
				errs = append(errs, field.Required(pp.Child("containerPort"), ""))
			} else {
				errs = append(errs, portNum(pp.Child("containerPort"), port.ContainerPort)...)
			}
			if port.HostPort != 0 {
				errs = append(errs, portNum(pp.Child("hostPort"), port.HostPort)...)
			}
			if !protocols.Has(port.Protocol) {
				errs = append(errs, supported(pp.Child("protocol"), port.Protocol, protocols))
			}
		}
		for j, env := range c.Env {
			ep := p.Child("env").Index(j).Child("name")
			if env.Name == "" {
				errs = append(errs, field.Required(ep, ""))
			}
		}
		for j, m := range c.VolumeMounts {
			mp := p.Child("volumeMounts").Index(j)
			if m.Name == "" {
				errs = append(errs, field.Required(mp.Child("name"), ""))
			} else if !volumes.Has(m.Name) {
				errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
			}
			if m.MountPath == "" {
				errs = append(errs, field.Required(mp.Child("mountPath"), ""))
			}
		}
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

// PodUpdate enforces pod spec immutability: only images, activeDeadlineSeconds,
// added tolerations and the grace period may change.
func PodUpdate(p, old *corev1.Pod) field.ErrorList {
	mutable := old.Spec.DeepCopy()
	for i := range mutable.Containers {
		if i < len(p.Spec.Containers) {
			mutable.Containers[i].Image = p.Spec.Containers[i].Image
		}
	}
	for i := range mutable.InitContainers {
		if i < len(p.Spec.InitContainers) {
			mutable.InitContainers[i].Image = p.Spec.InitContainers[i].Image
		}
	}
	mutable.ActiveDeadlineSeconds = p.Spec.ActiveDeadlineSeconds
	mutable.TerminationGracePeriodSeconds = p.Spec.TerminationGracePeriodSeconds
	if len(p.Spec.Tolerations) >= len(old.Spec.Tolerations) {
		mutable.Tolerations = p.Spec.Tolerations
	}
	// The scheduler's binding sets nodeName once; updates may not move a pod.
	if old.Spec.NodeName == "" {
		mutable.NodeName = p.Spec.NodeName
	}
	if apiequality.Semantic.DeepEqual(mutable, &p.Spec) {
		return nil
	}
	return field.ErrorList{field.Forbidden(field.NewPath("spec"), fmt.Sprintf("pod updates may not change fields other than %s",
		"`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"))}
}
