package validation

import (
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var serviceTypes = sets.New(corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName)

// Service validates a v1 Service.
func Service(s *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	if !serviceTypes.Has(s.Spec.Type) {
		errs = append(errs, supported(spec.Child("type"), s.Spec.Type, serviceTypes))
	}
	headless := s.Spec.ClusterIP == corev1.ClusterIPNone
	if len(s.Spec.Ports) == 0 && !headless && s.Spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(spec.Child("ports"), ""))
	}
	if s.Spec.Type == corev1.ServiceTypeExternalName {
		if s.Spec.ExternalName == "" {
			errs = append(errs, field.Required(spec.Child("externalName"), ""))
		}
	}
	names := sets.New[string]()
	ports := spec.Child("ports")
	for i, p := range s.Spec.Ports {
		pp := ports.Index(i)
		if len(s.Spec.Ports) > 1 && p.Name == "" {
			errs = append(errs, field.Required(pp.Child("name"), ""))
		} else if p.Name != "" {
			for _, msg := range validation.IsDNS1123Label(p.Name) {
				errs = append(errs, field.Invalid(pp.Child("name"), p.Name, msg))
			}
			if names.Has(p.Name) {
				errs = append(errs, field.Duplicate(pp.Child("name"), p.Name))
			}
			names.Insert(p.Name)
		}
		errs = append(errs, portNum(pp.Child("port"), p.Port)...)
		if !protocols.Has(p.Protocol) {
			errs = append(errs, supported(pp.Child("protocol"), p.Protocol, protocols))
		}
		if p.TargetPort.IntVal != 0 || p.TargetPort.StrVal == "" {
			errs = append(errs, portNum(pp.Child("targetPort"), p.TargetPort.IntVal)...)
		} else {
			for _, msg := range validation.IsValidPortName(p.TargetPort.StrVal) {
				errs = append(errs, field.Invalid(pp.Child("targetPort"), p.TargetPort.StrVal, msg))
			}
		}
		if p.NodePort != 0 && s.Spec.Type != corev1.ServiceTypeNodePort && s.Spec.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(pp.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
		}
	}
	if s.Spec.ClusterIP != "" && !headless && net.ParseIP(s.Spec.ClusterIP) == nil {
		errs = append(errs, field.Invalid(spec.Child("clusterIP"), s.Spec.ClusterIP, "must be empty, 'None', or a valid IP address"))
	}
	errs = append(errs, metav1validation.ValidateLabels(s.Spec.Selector, spec.Child("selector"))...)
	return errs
}

// ServiceUpdate keeps the cluster IP fixed once allocated.
func ServiceUpdate(s, old *corev1.Service) field.ErrorList {
	if old.Spec.ClusterIP != "" && s.Spec.Type != corev1.ServiceTypeExternalName && old.Spec.Type != corev1.ServiceTypeExternalName {
		return apivalidation.ValidateImmutableField(s.Spec.ClusterIP, old.Spec.ClusterIP, spec.Child("clusterIP"))
	}
	return nil
}

// ConfigMap validates the keys of a v1 ConfigMap and its size (1 MiB of
// data and binary data together).
func ConfigMap(c *corev1.ConfigMap) field.ErrorList {
	var errs field.ErrorList
	size := 0
	for k, v := range c.Data {
		errs = append(errs, key(field.NewPath("data"), k)...)
		size += len(v)
	}
	for k, v := range c.BinaryData {
		if _, dup := c.Data[k]; dup {
			errs = append(errs, field.Invalid(field.NewPath("binaryData"), k, "duplicate of key present in data"))
		}
		errs = append(errs, key(field.NewPath("binaryData"), k)...)
		size += len(v)
	}
	// The whole object's path, as upstream reports it.
	if size > corev1.MaxSecretSize {
		errs = append(errs, field.TooLong(field.NewPath(""), "", corev1.MaxSecretSize))
	}
	return errs
}

// Secret validates the keys of a v1 Secret and its size (1 MiB of data).
func Secret(s *corev1.Secret) field.ErrorList {
	var errs field.ErrorList
	size := 0
	for k, v := range s.Data {
		errs = append(errs, key(field.NewPath("data"), k)...)
		size += len(v)
	}
	if size > corev1.MaxSecretSize {
		errs = append(errs, field.TooLong(field.NewPath("data"), "", corev1.MaxSecretSize))
	}
	return errs
}

// SecretUpdate keeps the type fixed.
func SecretUpdate(s, old *corev1.Secret) field.ErrorList {
	return apivalidation.ValidateImmutableField(s.Type, old.Type, field.NewPath("type"))
}

func key(p *field.Path, k string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsConfigMapKey(k) {
		errs = append(errs, field.Invalid(p, k, msg))
	}
	return errs
}

// Binding validates a pod binding.
func Binding(b *corev1.Binding) field.ErrorList {
	var errs field.ErrorList
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		errs = append(errs, field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node", "<empty>"}))
	}
	if b.Target.Name == "" {
		errs = append(errs, field.Required(field.NewPath("target", "name"), ""))
	}
	return errs
}

// ServicePortRangeError is the message upstream gives for a node port out of range.
func ServicePortRangeError(base, size int) string {
	return fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", base, base+size-1)
}
