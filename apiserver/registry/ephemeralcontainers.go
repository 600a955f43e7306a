package registry

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/kubeseed/kubeseed/apiserver/validation"
)

// EphemeralContainersREST serves pods/ephemeralcontainers, through which
// `kubectl debug` adds a container to a running pod: get returns the pod,
// and an update (put or any patch) changes spec.ephemeralContainers only,
// of a pod that exists.
type EphemeralContainersREST struct {
	store *genericregistry.Store
}

var (
	_ rest.Patcher = &EphemeralContainersREST{}
	_ rest.Storage = &EphemeralContainersREST{}
)

// newEphemeralContainersREST serves the subresource on pods' store, with
// the update strategy that keeps everything but ephemeral containers.
func newEphemeralContainersREST(pods *genericregistry.Store, typer runtime.ObjectTyper, res *Resource) *EphemeralContainersREST {
	store := *pods
	store.UpdateStrategy = ephemeralContainersStrategy{newStrategy(typer, res, false)}
	return &EphemeralContainersREST{store: &store}
}

func (r *EphemeralContainersREST) New() runtime.Object { return &corev1.Pod{} }

// Destroy leaves the store, which is the pods' own, to them.
func (r *EphemeralContainersREST) Destroy() {}

func (r *EphemeralContainersREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

func (r *EphemeralContainersREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// Adding a container never creates the pod.
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// ephemeralContainersStrategy is the pods' strategy for updates through
// pods/ephemeralcontainers.
type ephemeralContainersStrategy struct{ *strategy }

// PrepareForUpdate keeps the stored pod but for its ephemeral containers:
// spec, status and the metadata a status writer may not touch either
// (labels, annotations, finalizers, owners, deletion) stay as they were.
// The generation counts the spec change, as any spec change.
func (s ephemeralContainersStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	pod := obj.(*corev1.Pod)
	// A copy, since old may be shared with the watch cache.
	was := old.(*corev1.Pod).DeepCopy()
	added := pod.Spec.EphemeralContainers
	pod.Spec, pod.Status = was.Spec, was.Status
	pod.Spec.EphemeralContainers = added
	metav1.ResetObjectMetaForStatus(pod, was)
	if !apiequality.Semantic.DeepEqual(pod.Spec, old.(*corev1.Pod).Spec) {
		pod.Generation++
	}
}

// ValidateUpdate is upstream's check of an ephemeral containers update,
// metadata included.
func (s ephemeralContainersStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.PodEphemeralContainersUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
}

func (s ephemeralContainersStrategy) AllowCreateOnUpdate(context.Context) bool { return false }

func (s ephemeralContainersStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}
