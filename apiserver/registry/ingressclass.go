package registry

import (
	"context"

	networkingv1 "k8s.io/api/networking/v1"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
)

// annotationIngressClass is the class annotation older Ingresses carry
// instead of spec.ingressClassName.
const annotationIngressClass = "kubernetes.io/ingress.class"

// defaultIngressClass does what upstream's DefaultIngressClass admission
// plugin (on by default) does: an Ingress created with neither
// spec.ingressClassName nor the class annotation gets the class annotated
// ingressclass.kubernetes.io/is-default-class: "true", the newest one if
// several are (by name when created in the same second). Updates keep what
// they are sent, as upstream.
func defaultIngressClass(ingresses, classes *genericregistry.Store) {
	next := ingresses.BeginCreate
	ingresses.BeginCreate = func(ctx context.Context, obj runtime.Object, options *metav1.CreateOptions) (genericregistry.FinishFunc, error) {
		if ing, ok := obj.(*networkingv1.Ingress); ok && ing.Spec.IngressClassName == nil {
			if _, annotated := ing.Annotations[annotationIngressClass]; !annotated {
				name, err := defaultIngressClassName(ctx, classes)
				if err != nil {
					return nil, err
				}
				if name != "" {
					ing.Spec.IngressClassName = &name
				}
			}
		}
		if next != nil {
			return next(ctx, obj, options)
		}
		return func(context.Context, bool) {}, nil
	}
}

func defaultIngressClassName(ctx context.Context, classes *genericregistry.Store) (string, error) {
	list, err := classes.List(genericapirequest.WithNamespace(ctx, ""), &metainternalversion.ListOptions{})
	if err != nil {
		return "", err
	}
	var chosen *networkingv1.IngressClass
	for i := range list.(*networkingv1.IngressClassList).Items {
		ic := &list.(*networkingv1.IngressClassList).Items[i]
		if ic.Annotations[networkingv1.AnnotationIsDefaultIngressClass] != "true" {
			continue
		}
		if chosen == nil || ic.CreationTimestamp.After(chosen.CreationTimestamp.Time) ||
			(ic.CreationTimestamp.Equal(&chosen.CreationTimestamp) && ic.Name < chosen.Name) {
			chosen = ic
		}
	}
	if chosen == nil {
		return "", nil
	}
	return chosen.Name, nil
}
