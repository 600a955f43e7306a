// Package v1alpha1 is version v1alpha1 of config.kubeseed.io: the file
// `kubeseed up --config` reads. It is a versioned API like any Kubernetes
// component configuration, so a file written today keeps its meaning when
// later versions arrive.
//
// +kubebuilder:object:generate=true
// +groupName=config.kubeseed.io
package v1alpha1
