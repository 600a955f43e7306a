package registry

import (
	"context"
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
)

// ScaleAccess reads and writes the replica counts of a scalable kind.
type ScaleAccess struct {
	// Replicas returns spec replicas, status replicas and the label selector
	// in its string form.
	Replicas    func(obj runtime.Object) (spec, status int32, selector string)
	SetReplicas func(obj runtime.Object, replicas int32)
}

// ScaleREST serves the scale subresource as autoscaling/v1 Scale, which
// `kubectl scale` and autoscalers use.
type ScaleREST struct {
	store  *genericregistry.Store
	access *ScaleAccess
}

var (
	_ rest.Patcher                  = &ScaleREST{}
	_ rest.GroupVersionKindProvider = &ScaleREST{}
)

func (r *ScaleREST) New() runtime.Object { return &autoscalingv1.Scale{} }
func (r *ScaleREST) Destroy()            {}

// GroupVersionKind says the subresource speaks autoscaling/v1 Scale whatever
// group contains it.
func (r *ScaleREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return autoscalingv1.SchemeGroupVersion.WithKind("Scale")
}

func (r *ScaleREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	obj, err := r.store.Get(ctx, name, options)
	if err != nil {
		return nil, err
	}
	return r.scaleOf(obj)
}

func (r *ScaleREST) scaleOf(obj runtime.Object) (*autoscalingv1.Scale, error) {
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("%T has no object metadata", obj)
	}
	spec, status, selector := r.access.Replicas(obj)
	return &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{
			Name:              m.GetName(),
			Namespace:         m.GetNamespace(),
			UID:               m.GetUID(),
			ResourceVersion:   m.GetResourceVersion(),
			CreationTimestamp: m.GetCreationTimestamp(),
		},
		Spec:   autoscalingv1.ScaleSpec{Replicas: spec},
		Status: autoscalingv1.ScaleStatus{Replicas: status, Selector: selector},
	}, nil
}

func (r *ScaleREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	obj, _, err := r.store.Update(ctx, name, &scaleUpdate{rest: r, inner: objInfo, name: name,
		createValidation: createValidation, updateValidation: updateValidation}, rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, options)
	if err != nil {
		return nil, false, err
	}
	s, err := r.scaleOf(obj)
	return s, false, err
}

// scaleUpdate translates an update of the Scale into an update of its owner.
type scaleUpdate struct {
	rest             *ScaleREST
	inner            rest.UpdatedObjectInfo
	name             string
	createValidation rest.ValidateObjectFunc
	updateValidation rest.ValidateObjectUpdateFunc
}

func (u *scaleUpdate) Preconditions() *metav1.Preconditions { return u.inner.Preconditions() }

func (u *scaleUpdate) UpdatedObject(ctx context.Context, old runtime.Object) (runtime.Object, error) {
	if old == nil {
		return nil, apierrors.NewNotFound(u.rest.store.DefaultQualifiedResource, u.name)
	}
	oldScale, err := u.rest.scaleOf(old)
	if err != nil {
		return nil, err
	}
	obj, err := u.inner.UpdatedObject(ctx, oldScale)
	if err != nil {
		return nil, err
	}
	scale, ok := obj.(*autoscalingv1.Scale)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("expected autoscaling/v1 Scale, got %T", obj))
	}
	if u.updateValidation != nil {
		if err := u.updateValidation(ctx, scale, oldScale); err != nil {
			return nil, err
		}
	}
	if scale.Spec.Replicas < 0 {
		return nil, apierrors.NewInvalid(autoscalingv1.SchemeGroupVersion.WithKind("Scale").GroupKind(), scale.Name,
			field.ErrorList{field.Invalid(field.NewPath("spec", "replicas"), scale.Spec.Replicas, "must be greater than or equal to 0")})
	}
	updated := old.DeepCopyObject()
	u.rest.access.SetReplicas(updated, scale.Spec.Replicas)
	if scale.ResourceVersion != "" {
		// A resourceVersion on the Scale is a precondition on its owner.
		if m, ok := updated.(metav1.Object); ok {
			m.SetResourceVersion(scale.ResourceVersion)
		}
	}
	return updated, nil
}
