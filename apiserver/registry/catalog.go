package registry

import (
	"context"
	"fmt"
	"strconv"
	"time"

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
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/kubeseed/kubeseed/apiserver/tables"
	"github.com/kubeseed/kubeseed/apiserver/validation"
)

// Deps is what building the storage needs.
type Deps struct {
	Typer       runtime.ObjectTyper
	RESTOptions generic.RESTOptionsGetter
	Services    *ServiceAllocators
	// Nodes reaches node agents for pods/log, exec, attach and portforward.
	Nodes NodeTransport
	// Authorizer answers access reviews and the rbac storage's escalate
	// and bind checks; nil serves no access reviews and checks nothing.
	Authorizer authorizer.Authorizer
	// Rules answers self subject rules reviews (kubectl auth can-i --list).
	Rules authorizer.RuleResolver
	// Tokens issues service account tokens (serviceaccounts/token); nil
	// serves none.
	Tokens *Tokens
}

// Group is one served group version and its storage map.
type Group struct {
	GroupVersion schema.GroupVersion
	Storage      map[string]rest.Storage
}

// typed adapts a typed function to the runtime.Object signature of Resource.
func typed[T runtime.Object](f func(T) field.ErrorList) func(runtime.Object) field.ErrorList {
	return func(o runtime.Object) field.ErrorList { return f(o.(T)) }
}

func typed2[T runtime.Object](f func(T, T) field.ErrorList) func(runtime.Object, runtime.Object) field.ErrorList {
	return func(o, old runtime.Object) field.ErrorList { return f(o.(T), old.(T)) }
}

func warnings[T runtime.Object](f func(T, bool) []string) func(runtime.Object, bool) []string {
	return func(o runtime.Object, update bool) []string { return f(o.(T), update) }
}

func scaleOf[T runtime.Object](spec func(T) **int32, status func(T) int32, sel func(T) *metav1.LabelSelector) *ScaleAccess {
	return &ScaleAccess{
		Replicas: func(o runtime.Object) (int32, int32, string) {
			t := o.(T)
			var n int32
			if p := *spec(t); p != nil {
				n = *p
			}
			s := ""
			if ls, err := metav1.LabelSelectorAsSelector(sel(t)); err == nil {
				s = ls.String()
			}
			return n, status(t), s
		},
		SetReplicas: func(o runtime.Object, n int32) { *spec(o.(T)) = &n },
	}
}

func core(plural, singular, kind string, newObj, newList func() runtime.Object) *Resource {
	return &Resource{GroupVersion: corev1.SchemeGroupVersion, Plural: plural, Singular: singular, Kind: kind, New: newObj, NewList: newList, Namespaced: true}
}

// Resources lists every served resource (kind-specific wiring is in BuildAll).
func Resources() []*Resource {
	apps, storage, rbac := appsv1.SchemeGroupVersion, storagev1.SchemeGroupVersion, rbacv1.SchemeGroupVersion
	return []*Resource{
		with(core("pods", "pod", "Pod", func() runtime.Object { return &corev1.Pod{} }, func() runtime.Object { return &corev1.PodList{} }), func(r *Resource) {
			r.Status, r.ShortNames, r.Categories = true, []string{"po"}, []string{"all"}
			r.PrepareForCreate = preparePodCreate
			r.Validate, r.ValidateCreate = typed(validation.Pod), typed(validation.PodCreate)
			r.ValidateUpdate = typed2(validation.PodUpdate)
			r.GracefulDelete = podGracefulDelete
			r.Fields = podFields
			// Every node agent watches its own pods.
			r.WatchIndex = &WatchIndex{Field: "spec.nodeName", Value: podNodeName}
			r.Table = tables.Pods
		}),
		with(core("services", "service", "Service", func() runtime.Object { return &corev1.Service{} }, func() runtime.Object { return &corev1.ServiceList{} }), func(r *Resource) {
			r.Status, r.ShortNames, r.Categories = true, []string{"svc"}, []string{"all"}
			r.AllowCreateOnUpdate, r.StorageKey = true, "services/specs"
			r.NameValidation = NameIsDNS1035Label
			r.Validate = typed(validation.Service)
			r.ValidateUpdate = typed2(validation.ServiceUpdate)
			r.Table = tables.Services
		}),
		with(core("endpoints", "endpoints", "Endpoints", func() runtime.Object { return &corev1.Endpoints{} }, func() runtime.Object { return &corev1.EndpointsList{} }), func(r *Resource) {
			r.ShortNames, r.AllowCreateOnUpdate, r.StorageKey = []string{"ep"}, true, "services/endpoints"
			r.Table = tables.Endpoints
		}),
		with(core("configmaps", "configmap", "ConfigMap", func() runtime.Object { return &corev1.ConfigMap{} }, func() runtime.Object { return &corev1.ConfigMapList{} }), func(r *Resource) {
			r.ShortNames, r.Validate, r.Table = []string{"cm"}, typed(validation.ConfigMap), tables.ConfigMaps
		}),
		with(core("secrets", "secret", "Secret", func() runtime.Object { return &corev1.Secret{} }, func() runtime.Object { return &corev1.SecretList{} }), func(r *Resource) {
			r.Validate, r.ValidateUpdate, r.Table = typed(validation.Secret), typed2(validation.SecretUpdate), tables.Secrets
			r.Fields = func(o runtime.Object) fields.Set { return fields.Set{"type": string(o.(*corev1.Secret).Type)} }
		}),
		with(core("serviceaccounts", "serviceaccount", "ServiceAccount", func() runtime.Object { return &corev1.ServiceAccount{} }, func() runtime.Object { return &corev1.ServiceAccountList{} }), func(r *Resource) {
			r.ShortNames, r.Table = []string{"sa"}, tables.ServiceAccounts
		}),
		with(core("events", "event", "Event", func() runtime.Object { return &corev1.Event{} }, func() runtime.Object { return &corev1.EventList{} }), func(r *Resource) {
			r.ShortNames, r.AllowCreateOnUpdate, r.TTL, r.Table = []string{"ev"}, true, time.Hour, tables.Events
			r.Fields = eventFields
		}),
		with(core("podtemplates", "podtemplate", "PodTemplate", func() runtime.Object { return &corev1.PodTemplate{} }, func() runtime.Object { return &corev1.PodTemplateList{} }), nil),
		with(core("replicationcontrollers", "replicationcontroller", "ReplicationController", func() runtime.Object { return &corev1.ReplicationController{} }, func() runtime.Object { return &corev1.ReplicationControllerList{} }), func(r *Resource) {
			r.Status, r.ShortNames, r.Categories, r.StorageKey = true, []string{"rc"}, []string{"all"}, "controllers"
			r.Table = tables.ReplicationControllers
			r.Scale = scaleOf(func(o *corev1.ReplicationController) **int32 { return &o.Spec.Replicas },
				func(o *corev1.ReplicationController) int32 { return o.Status.Replicas },
				func(o *corev1.ReplicationController) *metav1.LabelSelector {
					return &metav1.LabelSelector{MatchLabels: o.Spec.Selector}
				})
		}),
		with(core("persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", func() runtime.Object { return &corev1.PersistentVolumeClaim{} }, func() runtime.Object { return &corev1.PersistentVolumeClaimList{} }), func(r *Resource) {
			r.Status, r.ShortNames, r.Table = true, []string{"pvc"}, tables.PersistentVolumeClaims
		}),
		with(core("resourcequotas", "resourcequota", "ResourceQuota", func() runtime.Object { return &corev1.ResourceQuota{} }, func() runtime.Object { return &corev1.ResourceQuotaList{} }), func(r *Resource) {
			r.Status, r.ShortNames, r.Table = true, []string{"quota"}, tables.ResourceQuotas
		}),
		with(core("limitranges", "limitrange", "LimitRange", func() runtime.Object { return &corev1.LimitRange{} }, func() runtime.Object { return &corev1.LimitRangeList{} }), func(r *Resource) {
			r.ShortNames = []string{"limits"}
		}),
		with(core("namespaces", "namespace", "Namespace", func() runtime.Object { return &corev1.Namespace{} }, func() runtime.Object { return &corev1.NamespaceList{} }), func(r *Resource) {
			r.Namespaced, r.Status, r.ShortNames, r.NameValidation = false, true, []string{"ns"}, NameIsDNSLabel
			r.PrepareForCreate, r.PrepareForUpdate = prepareNamespaceCreate, prepareNamespaceUpdate
			r.ShouldDeleteDuringUpdate = namespaceDeletedDuringUpdate
			r.Fields = func(o runtime.Object) fields.Set {
				return fields.Set{"status.phase": string(o.(*corev1.Namespace).Status.Phase)}
			}
			r.Table = tables.Namespaces
		}),
		with(core("nodes", "node", "Node", func() runtime.Object { return &corev1.Node{} }, func() runtime.Object { return &corev1.NodeList{} }), func(r *Resource) {
			r.Namespaced, r.Status, r.ShortNames, r.StorageKey = false, true, []string{"no"}, "minions"
			r.Fields = func(o runtime.Object) fields.Set {
				return fields.Set{"spec.unschedulable": strconv.FormatBool(o.(*corev1.Node).Spec.Unschedulable)}
			}
			r.Table = tables.Nodes
			r.PrepareForCreate = taintNewNode
		}),
		with(core("persistentvolumes", "persistentvolume", "PersistentVolume", func() runtime.Object { return &corev1.PersistentVolume{} }, func() runtime.Object { return &corev1.PersistentVolumeList{} }), func(r *Resource) {
			r.Namespaced, r.Status, r.ShortNames, r.Table = false, true, []string{"pv"}, tables.PersistentVolumes
		}),

		{GroupVersion: apps, Plural: "deployments", Singular: "deployment", Kind: "Deployment", Namespaced: true, Status: true,
			New: func() runtime.Object { return &appsv1.Deployment{} }, NewList: func() runtime.Object { return &appsv1.DeploymentList{} },
			ShortNames: []string{"deploy"}, Categories: []string{"all"},
			Validate: typed(validation.Deployment), ValidateUpdate: typed2(validation.DeploymentUpdate), Table: tables.Deployments,
			Scale: scaleOf(func(o *appsv1.Deployment) **int32 { return &o.Spec.Replicas },
				func(o *appsv1.Deployment) int32 { return o.Status.Replicas },
				func(o *appsv1.Deployment) *metav1.LabelSelector { return o.Spec.Selector })},
		{GroupVersion: apps, Plural: "replicasets", Singular: "replicaset", Kind: "ReplicaSet", Namespaced: true, Status: true,
			New: func() runtime.Object { return &appsv1.ReplicaSet{} }, NewList: func() runtime.Object { return &appsv1.ReplicaSetList{} },
			ShortNames: []string{"rs"}, Categories: []string{"all"},
			Validate: typed(validation.ReplicaSet), ValidateUpdate: typed2(validation.ReplicaSetUpdate), Table: tables.ReplicaSets,
			Fields: func(o runtime.Object) fields.Set {
				return fields.Set{"status.replicas": strconv.Itoa(int(o.(*appsv1.ReplicaSet).Status.Replicas))}
			},
			Scale: scaleOf(func(o *appsv1.ReplicaSet) **int32 { return &o.Spec.Replicas },
				func(o *appsv1.ReplicaSet) int32 { return o.Status.Replicas },
				func(o *appsv1.ReplicaSet) *metav1.LabelSelector { return o.Spec.Selector })},
		{GroupVersion: apps, Plural: "statefulsets", Singular: "statefulset", Kind: "StatefulSet", Namespaced: true, Status: true,
			New: func() runtime.Object { return &appsv1.StatefulSet{} }, NewList: func() runtime.Object { return &appsv1.StatefulSetList{} },
			ShortNames: []string{"sts"}, Categories: []string{"all"},
			Validate: typed(validation.StatefulSet), ValidateUpdate: typed2(validation.StatefulSetUpdate), Table: tables.StatefulSets,
			Scale: scaleOf(func(o *appsv1.StatefulSet) **int32 { return &o.Spec.Replicas },
				func(o *appsv1.StatefulSet) int32 { return o.Status.Replicas },
				func(o *appsv1.StatefulSet) *metav1.LabelSelector { return o.Spec.Selector })},
		{GroupVersion: apps, Plural: "daemonsets", Singular: "daemonset", Kind: "DaemonSet", Namespaced: true, Status: true,
			New: func() runtime.Object { return &appsv1.DaemonSet{} }, NewList: func() runtime.Object { return &appsv1.DaemonSetList{} },
			ShortNames: []string{"ds"}, Categories: []string{"all"},
			PrepareForCreate: prepareDaemonSetCreate, PrepareForUpdate: prepareDaemonSetUpdate,
			Validate: typed(validation.DaemonSet), ValidateUpdate: typed2(validation.DaemonSetUpdate), Table: tables.DaemonSets},
		{GroupVersion: apps, Plural: "controllerrevisions", Singular: "controllerrevision", Kind: "ControllerRevision", Namespaced: true,
			New: func() runtime.Object { return &appsv1.ControllerRevision{} }, NewList: func() runtime.Object { return &appsv1.ControllerRevisionList{} },
			Table: tables.ControllerRevisions},

		{GroupVersion: batchv1.SchemeGroupVersion, Plural: "jobs", Singular: "job", Kind: "Job", Namespaced: true, Status: true,
			New: func() runtime.Object { return &batchv1.Job{} }, NewList: func() runtime.Object { return &batchv1.JobList{} },
			Categories: []string{"all"}, PrepareForCreate: prepareJobCreate,
			Validate: typed(validation.Job), ValidateUpdate: typed2(validation.JobUpdate), Table: tables.Jobs,
			Fields: func(o runtime.Object) fields.Set {
				return fields.Set{"status.successful": strconv.Itoa(int(o.(*batchv1.Job).Status.Succeeded))}
			}},
		{GroupVersion: batchv1.SchemeGroupVersion, Plural: "cronjobs", Singular: "cronjob", Kind: "CronJob", Namespaced: true, Status: true,
			New: func() runtime.Object { return &batchv1.CronJob{} }, NewList: func() runtime.Object { return &batchv1.CronJobList{} },
			ShortNames: []string{"cj"}, Categories: []string{"all"}, Validate: typed(validation.CronJob), Table: tables.CronJobs},

		{GroupVersion: coordinationv1.SchemeGroupVersion, Plural: "leases", Singular: "lease", Kind: "Lease", Namespaced: true, AllowCreateOnUpdate: true,
			New: func() runtime.Object { return &coordinationv1.Lease{} }, NewList: func() runtime.Object { return &coordinationv1.LeaseList{} },
			Table: tables.Leases},
		{GroupVersion: discoveryv1.SchemeGroupVersion, Plural: "endpointslices", Singular: "endpointslice", Kind: "EndpointSlice", Namespaced: true,
			New: func() runtime.Object { return &discoveryv1.EndpointSlice{} }, NewList: func() runtime.Object { return &discoveryv1.EndpointSliceList{} },
			Table: tables.EndpointSlices},
		{GroupVersion: eventsv1.SchemeGroupVersion, Plural: "events", Singular: "event", Kind: "Event", Namespaced: true, AllowCreateOnUpdate: true,
			New: func() runtime.Object { return &eventsv1.Event{} }, NewList: func() runtime.Object { return &eventsv1.EventList{} },
			ShortNames: []string{"ev"}, TTL: time.Hour, Table: tables.EventsV1, Fields: eventsV1Fields},
		{GroupVersion: policyv1.SchemeGroupVersion, Plural: "poddisruptionbudgets", Singular: "poddisruptionbudget", Kind: "PodDisruptionBudget",
			Namespaced: true, Status: true, ShortNames: []string{"pdb"}, Table: tables.PodDisruptionBudgets,
			New:     func() runtime.Object { return &policyv1.PodDisruptionBudget{} },
			NewList: func() runtime.Object { return &policyv1.PodDisruptionBudgetList{} }},
		{GroupVersion: autoscalingv1.SchemeGroupVersion, Plural: "horizontalpodautoscalers", Singular: "horizontalpodautoscaler", Kind: "HorizontalPodAutoscaler",
			Namespaced: true, Status: true, ShortNames: []string{"hpa"}, Categories: []string{"all"}, Table: tables.HorizontalPodAutoscalers,
			New:     func() runtime.Object { return &autoscalingv1.HorizontalPodAutoscaler{} },
			NewList: func() runtime.Object { return &autoscalingv1.HorizontalPodAutoscalerList{} }},

		{GroupVersion: storage, Plural: "storageclasses", Singular: "storageclass", Kind: "StorageClass", ShortNames: []string{"sc"},
			New: func() runtime.Object { return &storagev1.StorageClass{} }, NewList: func() runtime.Object { return &storagev1.StorageClassList{} },
			Validate: typed(validation.StorageClass), ValidateUpdate: typed2(validation.StorageClassUpdate), Table: tables.StorageClasses},
		{GroupVersion: storage, Plural: "csidrivers", Singular: "csidriver", Kind: "CSIDriver",
			New: func() runtime.Object { return &storagev1.CSIDriver{} }, NewList: func() runtime.Object { return &storagev1.CSIDriverList{} },
			Validate: typed(validation.CSIDriver), ValidateUpdate: typed2(validation.CSIDriverUpdate), Table: tables.CSIDrivers},
		{GroupVersion: storage, Plural: "csinodes", Singular: "csinode", Kind: "CSINode",
			New: func() runtime.Object { return &storagev1.CSINode{} }, NewList: func() runtime.Object { return &storagev1.CSINodeList{} },
			Validate: typed(validation.CSINode), ValidateUpdate: typed2(validation.CSINodeUpdate), Table: tables.CSINodes},
		{GroupVersion: storage, Plural: "volumeattachments", Singular: "volumeattachment", Kind: "VolumeAttachment", Status: true,
			New:      func() runtime.Object { return &storagev1.VolumeAttachment{} },
			NewList:  func() runtime.Object { return &storagev1.VolumeAttachmentList{} },
			Validate: typed(validation.VolumeAttachment), ValidateUpdate: typed2(validation.VolumeAttachmentUpdate),
			ValidateStatusUpdate: typed2(validation.VolumeAttachmentStatusUpdate), Table: tables.VolumeAttachments},

		// Stored and validated only: an ingress controller or a network
		// plugin acts on them, as on upstream.
		{GroupVersion: networkingv1.SchemeGroupVersion, Plural: "ingresses", Singular: "ingress", Kind: "Ingress",
			Namespaced: true, Status: true, ShortNames: []string{"ing"}, StorageKey: "ingress",
			New:     func() runtime.Object { return &networkingv1.Ingress{} },
			NewList: func() runtime.Object { return &networkingv1.IngressList{} },
			// Only a create checks the class annotation against
			// ingressClassName; an update keeps what the old object had wrong.
			ValidateCreate: typed(validation.IngressCreate), ValidateUpdate: typed2(validation.IngressUpdate),
			ValidateStatusUpdate: typed2(validation.IngressStatusUpdate), Table: tables.Ingresses,
			Warnings: warnings(validation.IngressWarnings)},
		{GroupVersion: networkingv1.SchemeGroupVersion, Plural: "ingressclasses", Singular: "ingressclass", Kind: "IngressClass",
			New:            func() runtime.Object { return &networkingv1.IngressClass{} },
			NewList:        func() runtime.Object { return &networkingv1.IngressClassList{} },
			ValidateCreate: typed(validation.IngressClass), ValidateUpdate: typed2(validation.IngressClassUpdate),
			Table: tables.IngressClasses},
		{GroupVersion: networkingv1.SchemeGroupVersion, Plural: "networkpolicies", Singular: "networkpolicy", Kind: "NetworkPolicy",
			Namespaced: true, ShortNames: []string{"netpol"},
			New:            func() runtime.Object { return &networkingv1.NetworkPolicy{} },
			NewList:        func() runtime.Object { return &networkingv1.NetworkPolicyList{} },
			ValidateCreate: typed(validation.NetworkPolicy), ValidateUpdate: typed2(validation.NetworkPolicyUpdate),
			Table: tables.NetworkPolicies, Warnings: warnings(validation.NetworkPolicyWarnings)},

		// Which class is the global default, and the pods' priorities, are
		// the Priority admission plugin's (apiserver/admission/priority).
		{GroupVersion: schedulingv1.SchemeGroupVersion, Plural: "priorityclasses", Singular: "priorityclass", Kind: "PriorityClass",
			ShortNames: []string{"pc"}, PrepareForCreate: preparePriorityClassCreate,
			New:     func() runtime.Object { return &schedulingv1.PriorityClass{} },
			NewList: func() runtime.Object { return &schedulingv1.PriorityClassList{} },
			// Upstream validates an update only as an update, so the system
			// classes' names pass: ValidateCreate, not Validate.
			ValidateCreate: typed(validation.PriorityClass), ValidateUpdate: typed2(validation.PriorityClassUpdate),
			Table: tables.PriorityClasses},

		// RBAC objects are validated here, guarded against privilege
		// escalation in rbac.go and enforced by package rbac;
		// roles print upstream's default NAME CREATED AT.
		{GroupVersion: rbac, Plural: "roles", Singular: "role", Kind: "Role", Namespaced: true, NameValidation: validation.RBACName,
			New: func() runtime.Object { return &rbacv1.Role{} }, NewList: func() runtime.Object { return &rbacv1.RoleList{} },
			Validate: typed(validation.Role)},
		{GroupVersion: rbac, Plural: "rolebindings", Singular: "rolebinding", Kind: "RoleBinding", Namespaced: true, NameValidation: validation.RBACName,
			New: func() runtime.Object { return &rbacv1.RoleBinding{} }, NewList: func() runtime.Object { return &rbacv1.RoleBindingList{} },
			Validate: typed(validation.RoleBinding), ValidateUpdate: typed2(validation.RoleBindingUpdate), Table: tables.RoleBindings},
		// aggregationRule is validated and stored; the clusterrole-aggregation
		// controller (controllers/) fills the rules from the roles it selects.
		{GroupVersion: rbac, Plural: "clusterroles", Singular: "clusterrole", Kind: "ClusterRole", NameValidation: validation.RBACName,
			New: func() runtime.Object { return &rbacv1.ClusterRole{} }, NewList: func() runtime.Object { return &rbacv1.ClusterRoleList{} },
			Validate: typed(validation.ClusterRole)},
		{GroupVersion: rbac, Plural: "clusterrolebindings", Singular: "clusterrolebinding", Kind: "ClusterRoleBinding", NameValidation: validation.RBACName,
			New:      func() runtime.Object { return &rbacv1.ClusterRoleBinding{} },
			NewList:  func() runtime.Object { return &rbacv1.ClusterRoleBindingList{} },
			Validate: typed(validation.ClusterRoleBinding), ValidateUpdate: typed2(validation.ClusterRoleBindingUpdate), Table: tables.ClusterRoleBindings},
	}
}

func with(r *Resource, f func(*Resource)) *Resource {
	if f != nil {
		f(r)
	}
	return r
}

func eventFields(o runtime.Object) fields.Set {
	e := o.(*corev1.Event)
	source := e.Source.Component
	if source == "" {
		source = e.ReportingController
	}
	return fields.Set{
		"involvedObject.kind":            e.InvolvedObject.Kind,
		"involvedObject.namespace":       e.InvolvedObject.Namespace,
		"involvedObject.name":            e.InvolvedObject.Name,
		"involvedObject.uid":             string(e.InvolvedObject.UID),
		"involvedObject.apiVersion":      e.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": e.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       e.InvolvedObject.FieldPath,
		"reason":                         e.Reason,
		"reportingComponent":             e.ReportingController,
		"source":                         source,
		"type":                           e.Type,
	}
}

func eventsV1Fields(o runtime.Object) fields.Set {
	e := o.(*eventsv1.Event)
	return fields.Set{
		"regarding.kind":            e.Regarding.Kind,
		"regarding.namespace":       e.Regarding.Namespace,
		"regarding.name":            e.Regarding.Name,
		"regarding.uid":             string(e.Regarding.UID),
		"regarding.apiVersion":      e.Regarding.APIVersion,
		"regarding.resourceVersion": e.Regarding.ResourceVersion,
		"regarding.fieldPath":       e.Regarding.FieldPath,
		"reason":                    e.Reason,
		"reportingController":       e.ReportingController,
		"type":                      e.Type,
	}
}

// taintNewNode does what upstream's TaintNodesByCondition admission does: a
// node is created not-ready for scheduling, and the node lifecycle controller
// lifts the taint once the node reports Ready. Doing it at create rather than
// in the controller means no pod lands on a node between its registration and
// its first heartbeat, and no writer races the controller for the new node.
func taintNewNode(_ context.Context, obj runtime.Object) {
	node := obj.(*corev1.Node)
	for _, t := range node.Spec.Taints {
		if t.Key == corev1.TaintNodeNotReady && t.Effect == corev1.TaintEffectNoSchedule {
			return
		}
	}
	node.Spec.Taints = append(node.Spec.Taints, corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule})
}

// daemonSetTemplateGeneration is the annotation through which apps/v1
// carries a DaemonSet's template generation: 1 at create, one more on each
// template change. The DaemonSet controller labels its pods with it
// (pod-template-generation), as upstream's does.
const daemonSetTemplateGeneration = "deprecated.daemonset.template.generation"

func templateGeneration(ds *appsv1.DaemonSet) int64 {
	g, err := strconv.ParseInt(ds.Annotations[daemonSetTemplateGeneration], 10, 64)
	if err != nil || g < 1 {
		return 0
	}
	return g
}

func setTemplateGeneration(ds *appsv1.DaemonSet, g int64) {
	if ds.Annotations == nil {
		ds.Annotations = map[string]string{}
	}
	ds.Annotations[daemonSetTemplateGeneration] = strconv.FormatInt(g, 10)
}

func prepareDaemonSetCreate(_ context.Context, obj runtime.Object) {
	ds := obj.(*appsv1.DaemonSet)
	if templateGeneration(ds) < 1 {
		setTemplateGeneration(ds, 1)
	}
}

func prepareDaemonSetUpdate(_ context.Context, obj, old runtime.Object) {
	ds, oldDS := obj.(*appsv1.DaemonSet), old.(*appsv1.DaemonSet)
	g := max(templateGeneration(oldDS), 1)
	if !apiequality.Semantic.DeepEqual(ds.Spec.Template, oldDS.Spec.Template) {
		g++
	}
	setTemplateGeneration(ds, g)
}

// prepareJobCreate generates the job's selector and pod labels from its UID
// unless the user manages the selector, as upstream does.
func prepareJobCreate(_ context.Context, obj runtime.Object) {
	job := obj.(*batchv1.Job)
	if job.Spec.ManualSelector != nil && *job.Spec.ManualSelector {
		return
	}
	uid := string(job.UID)
	if job.Spec.Template.Labels == nil {
		job.Spec.Template.Labels = map[string]string{}
	}
	for k, v := range map[string]string{
		batchv1.ControllerUidLabel: uid, batchv1.JobNameLabel: job.Name,
		"controller-uid": uid, "job-name": job.Name,
	} {
		job.Spec.Template.Labels[k] = v
	}
	job.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: uid}}
}

// BuildAll builds the storage of every resource, grouped by group version.
func BuildAll(d Deps) ([]Group, error) {
	var groups []Group
	index := map[schema.GroupVersion]int{}
	stores := map[string]*genericregistry.Store{}
	statusStores := map[string]*genericregistry.Store{}
	for _, res := range Resources() {
		s, err := Build(res, d.Typer, d.RESTOptions)
		if err != nil {
			return nil, err
		}
		stores[res.GroupResource().String()] = s.Store
		if st, ok := s.Map[res.Plural+"/status"].(*StatusREST); ok {
			statusStores[res.GroupResource().String()] = st.store
		}
		switch res.GroupResource() {
		case corev1.Resource("pods"):
			b := &BindingREST{store: s.Store}
			s.Map["pods/binding"] = b
			s.Map["bindings"] = &LegacyBindingREST{binding: b}
			s.Map["pods/ephemeralcontainers"] = newEphemeralContainersREST(s.Store, d.Typer, res)
		case corev1.Resource("services"):
			if d.Services == nil {
				return nil, fmt.Errorf("services need allocators")
			}
			d.Services.install(s.Store)
		case schedulingv1.Resource("priorityclasses"):
			s.Map["priorityclasses"] = &priorityClassStorage{mainStorage: s.Map["priorityclasses"].(*mainStorage)}
		case corev1.Resource("namespaces"):
			ns := &namespaceStorage{mainStorage: s.Map["namespaces"].(*mainStorage)}
			s.Map["namespaces"] = ns
			s.Map["namespaces/finalize"] = &FinalizeREST{ns: ns}
		}
		i, ok := index[res.GroupVersion]
		if !ok {
			i = len(groups)
			index[res.GroupVersion] = i
			groups = append(groups, Group{GroupVersion: res.GroupVersion, Storage: map[string]rest.Storage{}})
		}
		for k, v := range s.Map {
			groups[i].Storage[k] = v
		}
	}
	for _, res := range Resources() {
		if res.Namespaced {
			requireNamespace(stores[res.GroupResource().String()], stores["namespaces"])
		}
	}
	defaultStorageClass(stores["persistentvolumeclaims"], stores[storagev1.Resource("storageclasses").String()])
	defaultIngressClass(stores[networkingv1.Resource("ingresses").String()], stores[networkingv1.Resource("ingressclasses").String()])
	pp := &podProxy{pods: stores["pods"], nodes: stores["nodes"], transport: d.Nodes.Transport}
	core := groups[index[corev1.SchemeGroupVersion]].Storage
	core["pods/log"] = &LogREST{proxy: pp}
	pdbs := policyv1.Resource("poddisruptionbudgets").String()
	core["pods/eviction"] = &EvictionREST{pods: stores["pods"], podStatus: statusStores["pods"],
		budgets: stores[pdbs], budgetStatus: statusStores[pdbs]}
	if d.Authorizer != nil {
		guardRBAC(groups, index, stores, d.Authorizer)
		reviews := map[string]rest.Storage{
			"selfsubjectaccessreviews":  NewSelfSubjectAccessReviewREST(d.Authorizer),
			"subjectaccessreviews":      NewSubjectAccessReviewREST(d.Authorizer),
			"localsubjectaccessreviews": NewLocalSubjectAccessReviewREST(d.Authorizer),
		}
		if d.Rules != nil {
			reviews["selfsubjectrulesreviews"] = NewSelfSubjectRulesReviewREST(d.Rules)
		}
		groups = append(groups, Group{GroupVersion: authorizationv1.SchemeGroupVersion, Storage: reviews})
	}
	groups = append(groups, Group{GroupVersion: authenticationv1.SchemeGroupVersion, Storage: map[string]rest.Storage{
		"selfsubjectreviews": NewSelfSubjectReviewREST(),
	}})
	if t := d.Tokens; t != nil {
		if t.Lookup == nil {
			t.Lookup = &StoreLookup{}
		}
		*t.Lookup = StoreLookup{serviceAccounts: stores["serviceaccounts"], pods: stores["pods"], secrets: stores["secrets"], nodes: stores["nodes"]}
		core["serviceaccounts/token"] = &TokenRequestREST{tokens: *t}
	}
	core["pods/exec"] = &streamREST{proxy: pp, path: "exec", options: func() runtime.Object { return &corev1.PodExecOptions{} }}
	core["pods/attach"] = &streamREST{proxy: pp, path: "attach", options: func() runtime.Object { return &corev1.PodAttachOptions{} }}
	core["pods/portforward"] = &streamREST{proxy: pp, path: "portForward", options: func() runtime.Object { return &corev1.PodPortForwardOptions{} }}
	return groups, nil
}
