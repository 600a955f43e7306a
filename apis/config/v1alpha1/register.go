package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is config.kubeseed.io/v1alpha1.
var GroupVersion = schema.GroupVersion{Group: "config.kubeseed.io", Version: "v1alpha1"}

// AddToScheme registers the types and their defaulting.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &Cluster{})
	s.AddTypeDefaultingFunc(&Cluster{}, func(o any) { SetDefaults(o.(*Cluster)) })
	return nil
}
