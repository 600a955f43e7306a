package scheme

import (
	"fmt"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/kubeseed/kubeseed/apiserver/defaults"
)

// GroupVersions are the served group versions, each the preferred (and only)
// version of its group.
var GroupVersions = []schema.GroupVersion{
	corev1.SchemeGroupVersion,
	appsv1.SchemeGroupVersion,
	batchv1.SchemeGroupVersion,
	autoscalingv1.SchemeGroupVersion,
	coordinationv1.SchemeGroupVersion,
	discoveryv1.SchemeGroupVersion,
	eventsv1.SchemeGroupVersion,
	policyv1.SchemeGroupVersion,
	networkingv1.SchemeGroupVersion,
	authorizationv1.SchemeGroupVersion,
	authenticationv1.SchemeGroupVersion,
	storagev1.SchemeGroupVersion,
	rbacv1.SchemeGroupVersion,
	schedulingv1.SchemeGroupVersion,
	metricsv1beta1.SchemeGroupVersion,
}

var addToScheme = []func(*runtime.Scheme) error{
	corev1.AddToScheme,
	appsv1.AddToScheme,
	batchv1.AddToScheme,
	autoscalingv1.AddToScheme,
	coordinationv1.AddToScheme,
	discoveryv1.AddToScheme,
	eventsv1.AddToScheme,
	policyv1.AddToScheme,
	networkingv1.AddToScheme,
	authorizationv1.AddToScheme,
	authenticationv1.AddToScheme,
	storagev1.AddToScheme,
	rbacv1.AddToScheme,
	schedulingv1.AddToScheme,
	metricsv1beta1.AddToScheme,
}

// External returns a scheme with only the external types. The OpenAPI
// definition namer needs it: with internal versions present it would tag
// definitions with __internal kinds.
func External() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range addToScheme {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// New returns the serving scheme.
func New() (*runtime.Scheme, error) {
	s, err := External()
	if err != nil {
		return nil, err
	}
	metaPkg := reflect.TypeFor[metav1.Status]().PkgPath()
	for _, gv := range GroupVersions {
		internal := schema.GroupVersion{Group: gv.Group, Version: runtime.APIVersionInternal}
		for kind, t := range s.KnownTypes(gv) {
			// Option and watch types belong to meta; AddToGroupVersion registered them.
			if t.PkgPath() == metaPkg {
				continue
			}
			if _, err := s.New(internal.WithKind(kind)); err == nil {
				continue
			}
			s.AddKnownTypeWithName(internal.WithKind(kind), reflect.New(t).Interface().(runtime.Object))
		}
	}
	// The API server's own responses (status, discovery) are unversioned.
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	s.AddUnversionedTypes(schema.GroupVersion{Version: "v1"},
		&metav1.Status{}, &metav1.APIVersions{}, &metav1.APIGroupList{}, &metav1.APIGroup{}, &metav1.APIResourceList{})
	addDefaulting(s)
	if err := addFieldLabels(s); err != nil {
		return nil, err
	}
	if err := addParameterConversions(s); err != nil {
		return nil, err
	}
	if err := addEventConversions(s); err != nil {
		return nil, err
	}
	return s, nil
}

// defaulter adapts a typed defaulting function to the scheme's signature.
func defaulter[T runtime.Object](s *runtime.Scheme, f func(T)) {
	var zero T
	s.AddTypeDefaultingFunc(zero, func(o any) { f(o.(T)) })
}

func addDefaulting(s *runtime.Scheme) {
	defaulter(s, defaults.Pod)
	defaulter(s, func(l *corev1.PodList) {
		for i := range l.Items {
			defaults.Pod(&l.Items[i])
		}
	})
	defaulter(s, defaults.PodTemplate)
	defaulter(s, defaults.ReplicationController)
	defaulter(s, defaults.Service)
	defaulter(s, defaults.Namespace)
	defaulter(s, defaults.Secret)
	defaulter(s, defaults.Endpoints)
	defaulter(s, defaults.Node)
	defaulter(s, defaults.PersistentVolumeClaim)
	defaulter(s, defaults.EndpointSlice)
	defaulter(s, defaults.Deployment)
	defaulter(s, defaults.ReplicaSet)
	defaulter(s, defaults.StatefulSet)
	defaulter(s, defaults.DaemonSet)
	defaulter(s, defaults.Job)
	defaulter(s, defaults.CronJob)
	defaulter(s, defaults.StorageClass)
	defaulter(s, defaults.CSIDriver)
	defaulter(s, defaults.RoleBinding)
	defaulter(s, defaults.ClusterRoleBinding)
	defaulter(s, defaults.PriorityClass)
	defaulter(s, defaults.NetworkPolicy)
	defaulter(s, defaults.IngressClass)
}

// fieldLabels lists the field selectors each kind supports beyond
// metadata.name and metadata.namespace, as upstream does.
var fieldLabels = map[schema.GroupVersionKind][]string{
	corev1.SchemeGroupVersion.WithKind("Pod"): {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
		"spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"},
	corev1.SchemeGroupVersion.WithKind("Event"): {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
		"involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
		"reason", "reportingComponent", "source", "type"},
	corev1.SchemeGroupVersion.WithKind("Node"):                  {"spec.unschedulable"},
	corev1.SchemeGroupVersion.WithKind("Namespace"):             {"status.phase"},
	corev1.SchemeGroupVersion.WithKind("Secret"):                {"type"},
	corev1.SchemeGroupVersion.WithKind("ReplicationController"): {"status.replicas"},
	appsv1.SchemeGroupVersion.WithKind("ReplicaSet"):            {"status.replicas"},
	batchv1.SchemeGroupVersion.WithKind("Job"):                  {"status.successful"},
	eventsv1.SchemeGroupVersion.WithKind("Event"): {"regarding.kind", "regarding.namespace", "regarding.name",
		"regarding.uid", "regarding.apiVersion", "regarding.resourceVersion", "regarding.fieldPath",
		"reason", "reportingController", "type"},
}

func addFieldLabels(s *runtime.Scheme) error {
	for gvk, labels := range fieldLabels {
		allowed := map[string]bool{"metadata.name": true, "metadata.namespace": true}
		for _, l := range labels {
			allowed[l] = true
		}
		err := s.AddFieldLabelConversionFunc(gvk, func(label, value string) (string, string, error) {
			if !allowed[label] {
				return "", "", fmt.Errorf("field label not supported: %s", label)
			}
			return label, value, nil
		})
		if err != nil {
			return fmt.Errorf("field labels of %s: %w", gvk, err)
		}
	}
	return nil
}
