package registry

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
)

// Annotations that mark a StorageClass as the cluster's default.
const (
	defaultClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	defaultClassBetaAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

// defaultStorageClass does what upstream's DefaultStorageClass admission
// plugin does: a claim created without spec.storageClassName (nil, not "")
// gets the default StorageClass, the newest one if several are marked, so a
// StatefulSet's volumeClaimTemplates bind with no class named.
func defaultStorageClass(claims, classes *genericregistry.Store) {
	next := claims.BeginCreate
	claims.BeginCreate = func(ctx context.Context, obj runtime.Object, options *metav1.CreateOptions) (genericregistry.FinishFunc, error) {
		if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok && pvc.Spec.StorageClassName == nil {
			name, err := defaultClassName(ctx, classes)
			if err != nil {
				return nil, err
			}
			if name != "" {
				pvc.Spec.StorageClassName = &name
			}
		}
		if next != nil {
			return next(ctx, obj, options)
		}
		return func(context.Context, bool) {}, nil
	}
}

func defaultClassName(ctx context.Context, classes *genericregistry.Store) (string, error) {
	list, err := classes.List(genericapirequest.WithNamespace(ctx, ""), &metainternalversion.ListOptions{})
	if err != nil {
		return "", err
	}
	var chosen *storagev1.StorageClass
	for i := range list.(*storagev1.StorageClassList).Items {
		sc := &list.(*storagev1.StorageClassList).Items[i]
		if sc.Annotations[defaultClassAnnotation] != "true" && sc.Annotations[defaultClassBetaAnnotation] != "true" {
			continue
		}
		if chosen == nil || sc.CreationTimestamp.After(chosen.CreationTimestamp.Time) ||
			(sc.CreationTimestamp.Equal(&chosen.CreationTimestamp) && sc.Name < chosen.Name) {
			chosen = sc
		}
	}
	if chosen == nil {
		return "", nil
	}
	return chosen.Name, nil
}
