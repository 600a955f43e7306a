package registry

import (
	"context"
	"errors"

	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/kubeseed/kubeseed/apiserver/validation"
)

// preparePriorityClassCreate starts a class at generation 1, as upstream's
// strategy does (a class has no spec, so the generic rule does not apply).
func preparePriorityClassCreate(_ context.Context, obj runtime.Object) {
	obj.(*schedulingv1.PriorityClass).Generation = 1
}

// priorityClassStorage refuses to delete the system priority classes, as
// upstream's storage does. Like upstream it guards deletes by name only: a
// delete of the whole collection removes them too, until the next start
// creates them again.
type priorityClassStorage struct {
	*mainStorage
}

func (s *priorityClassStorage) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	if validation.IsSystemPriorityClass(name) {
		return nil, false, apierrors.NewForbidden(schedulingv1.Resource("priorityclasses"), name, errors.New("this is a system priority class and cannot be deleted"))
	}
	return s.mainStorage.Delete(ctx, name, deleteValidation, options)
}
