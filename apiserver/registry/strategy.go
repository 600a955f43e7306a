package registry

import (
	"context"
	"errors"
	"reflect"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// strategy implements the create, update and delete strategies of a Resource.
// status selects the /status flavour, which only changes status.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
	res    *Resource
	status bool
}

func newStrategy(typer runtime.ObjectTyper, res *Resource, status bool) *strategy {
	return &strategy{ObjectTyper: typer, NameGenerator: names.SimpleNameGenerator, res: res, status: status}
}

func (s *strategy) NamespaceScoped() bool { return s.res.Namespaced }

func (s *strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	if s.res.Status {
		// Clients do not set status on create; controllers own it.
		setField(obj, "Status", reflect.Zero(fieldType(obj, "Status")))
	}
	if hasField(obj, "Spec") {
		if m, err := meta.Accessor(obj); err == nil {
			m.SetGeneration(1)
		}
	}
	if s.res.PrepareForCreate != nil {
		s.res.PrepareForCreate(ctx, obj)
	}
}

func (s *strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	newMeta, err1 := meta.Accessor(obj)
	oldMeta, err2 := meta.Accessor(old)
	if err1 != nil || err2 != nil {
		return
	}
	if s.status {
		// A status update changes status only (and the metadata a status
		// writer may touch); spec stays what it was.
		if hasField(obj, "Spec") {
			copyField(obj, old, "Spec")
		}
		newMeta.SetGeneration(oldMeta.GetGeneration())
		newMeta.SetDeletionTimestamp(oldMeta.GetDeletionTimestamp())
		if s.res.PrepareForStatusUpdate != nil {
			s.res.PrepareForStatusUpdate(ctx, obj, old)
		}
		return
	}
	if s.res.Status {
		copyField(obj, old, "Status")
	}
	if hasField(obj, "Spec") {
		// Generation counts spec changes so controllers can report observedGeneration.
		gen := oldMeta.GetGeneration()
		if !apiequality.Semantic.DeepEqual(field0(obj, "Spec").Interface(), field0(old, "Spec").Interface()) {
			gen++
		}
		newMeta.SetGeneration(gen)
	}
	if s.res.PrepareForUpdate != nil {
		s.res.PrepareForUpdate(ctx, obj, old)
	}
}

func (s *strategy) nameFunc() apivalidation.ValidateNameFunc {
	if s.res.NameValidation != nil {
		return s.res.NameValidation
	}
	return apivalidation.NameIsDNSSubdomain
}

func (s *strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	m, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	errs := apivalidation.ValidateObjectMetaAccessor(m, s.res.Namespaced, s.nameFunc(), field.NewPath("metadata"))
	switch {
	case s.res.ValidateCreate != nil:
		errs = append(errs, s.res.ValidateCreate(obj)...)
	case s.res.Validate != nil:
		errs = append(errs, s.res.Validate(obj)...)
	}
	return errs
}

func (s *strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	newMeta, err1 := meta.Accessor(obj)
	oldMeta, err2 := meta.Accessor(old)
	if err1 != nil || err2 != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), errors.Join(err1, err2))}
	}
	errs := apivalidation.ValidateObjectMetaAccessorUpdate(newMeta, oldMeta, field.NewPath("metadata"))
	switch {
	case s.status && s.res.ValidateStatusUpdate != nil:
		errs = append(errs, s.res.ValidateStatusUpdate(obj, old)...)
	case !s.status:
		if s.res.Validate != nil {
			errs = append(errs, s.res.Validate(obj)...)
		}
		if s.res.ValidateUpdate != nil {
			errs = append(errs, s.res.ValidateUpdate(obj, old)...)
		}
	}
	return errs
}

func (s *strategy) WarningsOnCreate(_ context.Context, obj runtime.Object) []string {
	if s.res.Warnings == nil {
		return nil
	}
	return s.res.Warnings(obj, false)
}

func (s *strategy) WarningsOnUpdate(_ context.Context, obj, _ runtime.Object) []string {
	if s.status || s.res.Warnings == nil {
		return nil
	}
	return s.res.Warnings(obj, true)
}
func (s *strategy) Canonicalize(runtime.Object) {}
func (s *strategy) AllowCreateOnUpdate(context.Context) bool {
	return s.res.AllowCreateOnUpdate && !s.status
}
func (s *strategy) AllowUnconditionalUpdate(context.Context) bool { return true }

// GetResetFields tells server-side apply which fields this endpoint ignores,
// so managed fields stay truthful.
func (s *strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	if !s.res.Status {
		return nil
	}
	reset := fieldpath.NewSet(fieldpath.MakePathOrDie("status"))
	if s.status {
		reset = fieldpath.NewSet(fieldpath.MakePathOrDie("spec"))
	}
	return map[fieldpath.APIVersion]*fieldpath.Set{fieldpath.APIVersion(s.res.GroupVersion.String()): reset}
}

// gracefulDeleteStrategy adds CheckGracefulDelete for kinds that wait on delete.
type gracefulDeleteStrategy struct{ *strategy }

func (s gracefulDeleteStrategy) CheckGracefulDelete(ctx context.Context, obj runtime.Object, options *metav1.DeleteOptions) bool {
	return s.res.GracefulDelete(ctx, obj, options)
}

func structValue(obj runtime.Object) reflect.Value {
	v := reflect.ValueOf(obj)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	return v
}

func hasField(obj runtime.Object, name string) bool {
	return structValue(obj).FieldByName(name).IsValid()
}

func field0(obj runtime.Object, name string) reflect.Value {
	return structValue(obj).FieldByName(name)
}

func fieldType(obj runtime.Object, name string) reflect.Type {
	return field0(obj, name).Type()
}

func setField(obj runtime.Object, name string, v reflect.Value) {
	if f := field0(obj, name); f.IsValid() && f.CanSet() {
		f.Set(v)
	}
}

// copyField sets dst's field to a deep copy of src's, so later changes to dst
// never reach src (often an object shared with the watch cache).
func copyField(dst, src runtime.Object, name string) {
	setField(dst, name, field0(src.DeepCopyObject(), name))
}
