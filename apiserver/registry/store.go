package registry

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// Storage is the REST storage of one resource and its subresources, keyed as
// APIGroupInfo.VersionedResourcesStorageMap wants ("pods", "pods/status").
type Storage struct {
	Store *genericregistry.Store
	Map   map[string]rest.Storage
}

// mainStorage adds discovery's short names and categories to a store.
type mainStorage struct {
	*genericregistry.Store
	shortNames []string
	categories []string
}

func (s *mainStorage) ShortNames() []string { return s.shortNames }
func (s *mainStorage) Categories() []string { return s.categories }

// Build creates the etcd-backed storage of res.
func Build(res *Resource, typer runtime.ObjectTyper, opts generic.RESTOptionsGetter) (*Storage, error) {
	st := newStrategy(typer, res, false)
	var del rest.RESTDeleteStrategy = st
	if res.GracefulDelete != nil {
		del = gracefulDeleteStrategy{st}
	}
	store := &genericregistry.Store{
		NewFunc:                   res.New,
		NewListFunc:               res.NewList,
		DefaultQualifiedResource:  res.GroupResource(),
		SingularQualifiedResource: res.GroupVersion.WithResource(res.Singular).GroupResource(),
		PredicateFunc:             predicate(res),
		CreateStrategy:            st,
		UpdateStrategy:            st,
		DeleteStrategy:            del,
		ResetFieldsStrategy:       st,
		TableConvertor:            res.Table,
	}
	if res.Table == nil {
		store.TableConvertor = rest.NewDefaultTableConvertor(res.GroupResource())
	}
	if res.ShouldDeleteDuringUpdate != nil {
		store.ShouldDeleteDuringUpdate = res.ShouldDeleteDuringUpdate
	}
	if res.TTL > 0 {
		ttl := uint64(res.TTL.Seconds())
		store.TTLFunc = func(runtime.Object, uint64, bool) (uint64, error) { return ttl, nil }
	}
	storeOpts := &generic.StoreOptions{RESTOptions: opts, AttrFunc: attrFunc(res)}
	if ix := res.WatchIndex; ix != nil {
		storeOpts.TriggerFunc = storage.IndexerFuncs{ix.Field: ix.Value}
		storeOpts.Indexers = &cache.Indexers{storage.FieldIndex(ix.Field): func(obj any) ([]string, error) {
			o, ok := obj.(runtime.Object)
			if !ok {
				return nil, fmt.Errorf("indexing %s: not an object: %T", res.GroupResource(), obj)
			}
			return []string{ix.Value(o)}, nil
		}}
	}
	if err := store.CompleteWithOptions(storeOpts); err != nil {
		return nil, fmt.Errorf("storage of %s: %w", res.GroupResource(), err)
	}
	out := &Storage{
		Store: store,
		Map:   map[string]rest.Storage{res.Plural: &mainStorage{Store: store, shortNames: res.ShortNames, categories: res.Categories}},
	}
	if res.Status {
		status := *store
		ss := newStrategy(typer, res, true)
		status.UpdateStrategy = ss
		status.ResetFieldsStrategy = ss
		out.Map[res.Plural+"/status"] = &StatusREST{store: &status}
	}
	if res.Scale != nil {
		out.Map[res.Plural+"/scale"] = &ScaleREST{store: store, access: res.Scale}
	}
	return out, nil
}

func predicate(res *Resource) func(labels.Selector, fields.Selector) storage.SelectionPredicate {
	var indexFields []string
	if res.WatchIndex != nil {
		indexFields = []string{res.WatchIndex.Field}
	}
	return func(l labels.Selector, f fields.Selector) storage.SelectionPredicate {
		return storage.SelectionPredicate{Label: l, Field: f, GetAttrs: attrFunc(res), IndexFields: indexFields}
	}
}

func attrFunc(res *Resource) storage.AttrFunc {
	return func(obj runtime.Object) (labels.Set, fields.Set, error) {
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, nil, err
		}
		fs := fields.Set{"metadata.name": m.GetName()}
		if res.Namespaced {
			fs["metadata.namespace"] = m.GetNamespace()
		}
		if res.Fields != nil {
			for k, v := range res.Fields(obj) {
				fs[k] = v
			}
		}
		return labels.Set(m.GetLabels()), fs, nil
	}
}

// StatusREST serves the status subresource: get, and update of status only.
type StatusREST struct {
	store *genericregistry.Store
}

var (
	_ rest.Patcher             = &StatusREST{}
	_ rest.ResetFieldsStrategy = &StatusREST{}
	_ rest.TableConvertor      = &StatusREST{}
)

func (r *StatusREST) New() runtime.Object { return r.store.New() }
func (r *StatusREST) Destroy()            {}

func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// Status updates never create the object.
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

func (r *StatusREST) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, obj, tableOptions)
}
