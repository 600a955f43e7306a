package registry

import (
	"context"
	"time"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Resource describes one served resource.
type Resource struct {
	// GroupVersion of the resource and its plural and singular names.
	GroupVersion schema.GroupVersion
	Plural       string
	Singular     string
	Kind         string
	New          func() runtime.Object
	NewList      func() runtime.Object
	Namespaced   bool
	// Status adds a status subresource: the main resource then ignores status
	// changes and /status ignores everything else.
	Status bool
	// Scale adds an autoscaling/v1 scale subresource.
	Scale *ScaleAccess
	// ShortNames and Categories appear in discovery (kubectl get po, get all).
	ShortNames []string
	Categories []string
	// AllowCreateOnUpdate lets a PUT create the object, as upstream allows for
	// endpoints, leases, events and services.
	AllowCreateOnUpdate bool
	// NameValidation validates metadata.name (default: a DNS subdomain).
	NameValidation apivalidation.ValidateNameFunc

	// PrepareForCreate and PrepareForUpdate normalize objects before validation
	// (after the generic handling of status and generation).
	PrepareForCreate func(ctx context.Context, obj runtime.Object)
	PrepareForUpdate func(ctx context.Context, obj, old runtime.Object)
	// PrepareForStatusUpdate runs on /status updates after spec was restored.
	PrepareForStatusUpdate func(ctx context.Context, obj, old runtime.Object)
	Validate               func(obj runtime.Object) field.ErrorList
	// ValidateCreate, when set, validates new objects instead of Validate,
	// for kinds with rules only a create has (a new pod has no ephemeral
	// containers).
	ValidateCreate       func(obj runtime.Object) field.ErrorList
	ValidateUpdate       func(obj, old runtime.Object) field.ErrorList
	ValidateStatusUpdate func(obj, old runtime.Object) field.ErrorList
	// Warnings, when set, returns the warnings a create or an update (not of
	// status) sends the client along with its success, as upstream's.
	Warnings func(obj runtime.Object, update bool) []string
	// ShouldDeleteDuringUpdate, when set, replaces the generic rule that an
	// update leaving a deleted object with no finalizers removes it.
	ShouldDeleteDuringUpdate func(ctx context.Context, key string, obj, existing runtime.Object) bool
	// GracefulDelete, when set, decides whether and how long a delete waits.
	GracefulDelete func(ctx context.Context, obj runtime.Object, options *metav1.DeleteOptions) bool
	// Fields returns the field-selector attributes beyond metadata.name and
	// metadata.namespace.
	Fields func(obj runtime.Object) fields.Set
	// WatchIndex, when set, indexes the watch cache by one field selector
	// attribute, as upstream's pod storage indexes spec.nodeName: a list or
	// watch selecting one value of it is served from the index, and a watch
	// event reaches only the watchers of its old and new values (and those
	// not selecting by it), instead of every watcher filtering every event.
	WatchIndex *WatchIndex
	// Table renders kubectl get's columns.
	Table rest.TableConvertor
	// TTL makes etcd expire objects (events) after this long.
	TTL time.Duration
	// StorageKey is the key segment under /registry (default Plural), so the
	// etcd layout matches upstream's.
	StorageKey string
}

// WatchIndex is a field selector attribute the watch cache indexes, with
// what reads its value from an object (the same value Fields gives).
type WatchIndex struct {
	Field string
	Value func(obj runtime.Object) string
}

// GroupResource returns the resource's group and plural name.
func (r *Resource) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.GroupVersion.Group, Resource: r.Plural}
}

// Key returns the storage key segment.
func (r *Resource) Key() string {
	if r.StorageKey != "" {
		return r.StorageKey
	}
	return r.Plural
}

// Name validation functions for Resource.NameValidation.
var (
	NameIsDNSLabel     = apivalidation.NameIsDNSLabel
	NameIsDNS1035Label = apivalidation.NameIsDNS1035Label
)
