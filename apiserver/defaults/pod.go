package defaults

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Pod defaults a Pod's spec. Creation-time fields (status.phase, qosClass) are
// the registry's business, not defaulting's.
func Pod(p *corev1.Pod) {
	PodSpec(&p.Spec)
	// A container with limits and no requests requests what it may use.
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for i := range cs {
			requestsFromLimits(&cs[i].Resources)
		}
	}
}

func requestsFromLimits(r *corev1.ResourceRequirements) {
	for name, q := range r.Limits {
		if _, ok := r.Requests[name]; ok {
			continue
		}
		if r.Requests == nil {
			r.Requests = corev1.ResourceList{}
		}
		r.Requests[name] = q.DeepCopy()
	}
}

// PodTemplateSpec defaults the pod spec inside a workload's template.
func PodTemplateSpec(t *corev1.PodTemplateSpec) {
	PodSpec(&t.Spec)
}

// PodSpec defaults a pod spec wherever it appears.
func PodSpec(s *corev1.PodSpec) {
	if s.RestartPolicy == "" {
		s.RestartPolicy = corev1.RestartPolicyAlways
	}
	if s.DNSPolicy == "" {
		s.DNSPolicy = corev1.DNSClusterFirst
	}
	if s.TerminationGracePeriodSeconds == nil {
		s.TerminationGracePeriodSeconds = ptr.To[int64](corev1.DefaultTerminationGracePeriodSeconds)
	}
	if s.SchedulerName == "" {
		s.SchedulerName = corev1.DefaultSchedulerName
	}
	if s.SecurityContext == nil {
		s.SecurityContext = &corev1.PodSecurityContext{}
	}
	if s.EnableServiceLinks == nil {
		s.EnableServiceLinks = ptr.To(corev1.DefaultEnableServiceLinks)
	}
	if s.ServiceAccountName == "" && s.DeprecatedServiceAccount != "" {
		s.ServiceAccountName = s.DeprecatedServiceAccount
	}
	if s.DeprecatedServiceAccount == "" && s.ServiceAccountName != "" {
		s.DeprecatedServiceAccount = s.ServiceAccountName
	}
	for i := range s.InitContainers {
		container(&s.InitContainers[i], s.HostNetwork)
	}
	for i := range s.Containers {
		container(&s.Containers[i], s.HostNetwork)
	}
	// An ephemeral container is defaulted as any container (its ports and
	// probes too, which validation then forbids), but never gets host ports
	// from hostNetwork, as upstream's defaulting does.
	for i := range s.EphemeralContainers {
		container((*corev1.Container)(&s.EphemeralContainers[i].EphemeralContainerCommon), false)
	}
	for i := range s.Volumes {
		volume(&s.Volumes[i])
	}
}

// PullPolicyFor is the pull policy an image gets when none is given: Always for
// :latest or no tag (a moving reference), IfNotPresent for any other tag or a digest.
func PullPolicyFor(image string) corev1.PullPolicy {
	if strings.Contains(image, "@") {
		return corev1.PullIfNotPresent
	}
	name := image
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	tag := ""
	if i := strings.LastIndex(name, ":"); i >= 0 {
		tag = name[i+1:]
	}
	if tag == "" || tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

func container(c *corev1.Container, hostNetwork bool) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = PullPolicyFor(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		p := &c.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if hostNetwork && p.HostPort == 0 {
			p.HostPort = p.ContainerPort
		}
	}
	for i := range c.Env {
		if vf := c.Env[i].ValueFrom; vf != nil && vf.FieldRef != nil && vf.FieldRef.APIVersion == "" {
			vf.FieldRef.APIVersion = "v1"
		}
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		probe(p)
	}
	for _, h := range []*corev1.LifecycleHandler{lifecycleStart(c), lifecycleStop(c)} {
		if h != nil && h.HTTPGet != nil {
			httpGet(h.HTTPGet)
		}
	}
}

func lifecycleStart(c *corev1.Container) *corev1.LifecycleHandler {
	if c.Lifecycle == nil {
		return nil
	}
	return c.Lifecycle.PostStart
}

func lifecycleStop(c *corev1.Container) *corev1.LifecycleHandler {
	if c.Lifecycle == nil {
		return nil
	}
	return c.Lifecycle.PreStop
}

func probe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	if p.HTTPGet != nil {
		httpGet(p.HTTPGet)
	}
}

func httpGet(h *corev1.HTTPGetAction) {
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

// defaultMode is 0644, the mode upstream gives projected files.
const defaultMode int32 = 0o644

func volume(v *corev1.Volume) {
	vs := &v.VolumeSource
	switch {
	case vs.ConfigMap != nil:
		if vs.ConfigMap.DefaultMode == nil {
			vs.ConfigMap.DefaultMode = ptr.To(defaultMode)
		}
	case vs.Secret != nil:
		if vs.Secret.DefaultMode == nil {
			vs.Secret.DefaultMode = ptr.To(defaultMode)
		}
	case vs.Projected != nil:
		if vs.Projected.DefaultMode == nil {
			vs.Projected.DefaultMode = ptr.To(defaultMode)
		}
		for i := range vs.Projected.Sources {
			if sat := vs.Projected.Sources[i].ServiceAccountToken; sat != nil && sat.ExpirationSeconds == nil {
				sat.ExpirationSeconds = ptr.To[int64](3600)
			}
		}
	case vs.DownwardAPI != nil:
		if vs.DownwardAPI.DefaultMode == nil {
			vs.DownwardAPI.DefaultMode = ptr.To(defaultMode)
		}
		for i := range vs.DownwardAPI.Items {
			if fr := vs.DownwardAPI.Items[i].FieldRef; fr != nil && fr.APIVersion == "" {
				fr.APIVersion = "v1"
			}
		}
	case vs.HostPath != nil:
		if vs.HostPath.Type == nil {
			vs.HostPath.Type = ptr.To(corev1.HostPathUnset)
		}
	case vs.EmptyDir == nil && emptySource(vs):
		// A volume with no source is an emptyDir, as upstream defaults it.
		vs.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
}

func emptySource(vs *corev1.VolumeSource) bool {
	return *vs == (corev1.VolumeSource{})
}

// intOrPercent parses a default like "25%".
func intOrPercent(s string) *intstr.IntOrString {
	v := intstr.FromString(s)
	return &v
}
