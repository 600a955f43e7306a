package v1alpha1

import (
	"fmt"
	"os"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

// Load reads a Cluster from a YAML or JSON file, strictly: an unknown or
// duplicated field is an error naming it, as `kubectl apply` treats a typo.
// The result is defaulted and validated.
func Load(path string) (*Cluster, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(data, path)
}

// Decode is Load for bytes; source names them in errors.
func Decode(data []byte, source string) (*Cluster, error) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		return nil, err
	}
	codecs := serializer.NewCodecFactory(s, serializer.EnableStrict)
	obj, gvk, err := codecs.UniversalDecoder(GroupVersion).Decode(data, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	c, ok := obj.(*Cluster)
	if !ok {
		return nil, fmt.Errorf("%s: kind %s is not a %s Cluster", source, gvk, GroupVersion)
	}
	if errs := Validate(c); len(errs) > 0 {
		return nil, fmt.Errorf("%s: %w", source, errs.ToAggregate())
	}
	return c, nil
}
