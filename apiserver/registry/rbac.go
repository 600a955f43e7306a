package registry

import (
	"context"
	"errors"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/kubeseed/kubeseed/apiserver/rbac"
)

// The rbac storage refuses privilege escalation as upstream's does: a user
// may create or change a Role or ClusterRole only with rules it already
// holds (or with the escalate verb on it), and a RoleBinding or
// ClusterRoleBinding only to a role whose rules it holds (or with the bind
// verb on that role). system:masters, which the API server's own loopback
// identity is in, may do anything.

// rbacStores resolves rules from the storage itself (as upstream's rbac
// storage does), so a role created a moment ago counts at once.
type rbacStores struct {
	roles, roleBindings, clusterRoles, clusterRoleBindings *genericregistry.Store
}

var _ rbac.Source = rbacStores{}

func (s rbacStores) GetRole(ctx context.Context, namespace, name string) (*rbacv1.Role, error) {
	obj, err := s.roles.Get(genericapirequest.WithNamespace(ctx, namespace), name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*rbacv1.Role), nil
}

func (s rbacStores) GetClusterRole(ctx context.Context, name string) (*rbacv1.ClusterRole, error) {
	obj, err := s.clusterRoles.Get(genericapirequest.WithNamespace(ctx, ""), name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*rbacv1.ClusterRole), nil
}

func (s rbacStores) ListRoleBindings(ctx context.Context, namespace string) ([]*rbacv1.RoleBinding, error) {
	obj, err := s.roleBindings.List(genericapirequest.WithNamespace(ctx, namespace), &metainternalversion.ListOptions{})
	if err != nil {
		return nil, err
	}
	list := obj.(*rbacv1.RoleBindingList)
	out := make([]*rbacv1.RoleBinding, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

func (s rbacStores) ListClusterRoleBindings(ctx context.Context) ([]*rbacv1.ClusterRoleBinding, error) {
	obj, err := s.clusterRoleBindings.List(genericapirequest.WithNamespace(ctx, ""), &metainternalversion.ListOptions{})
	if err != nil {
		return nil, err
	}
	list := obj.(*rbacv1.ClusterRoleBindingList)
	out := make([]*rbacv1.ClusterRoleBinding, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// escalationGuard holds what every rbac storage's checks need.
type escalationGuard struct {
	authorizer authorizer.Authorizer
	resolver   *rbac.Resolver
}

// privileged: system:masters may grant anything (the loopback identity is in
// it, so the bootstrap policy and its reconciliation pass).
func privileged(ctx context.Context) bool {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return false
	}
	for _, g := range u.GetGroups() {
		if g == user.SystemPrivilegedGroup {
			return true
		}
	}
	return false
}

// allowed asks the authorizer whether the request's user may verb the
// given role.
func (g *escalationGuard) allowed(ctx context.Context, verb string, gr schema.GroupResource, namespace, name string) bool {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok || g.authorizer == nil {
		return false
	}
	attrs := authorizer.AttributesRecord{User: u, Verb: verb, APIGroup: gr.Group, APIVersion: "*", Resource: gr.Resource,
		Namespace: namespace, Name: name, ResourceRequest: true}
	decision, _, err := g.authorizer.Authorize(ctx, attrs)
	if err != nil {
		utilruntime.HandleError(fmt.Errorf("authorizing %s to %s %s %q in namespace %q: %w", u.GetName(), verb, gr, name, namespace, err))
	}
	return decision == authorizer.DecisionAllow
}

// escalateAuthorized: the user has the escalate verb on the role the request
// is about.
func (g *escalationGuard) escalateAuthorized(ctx context.Context) bool {
	info, ok := genericapirequest.RequestInfoFrom(ctx)
	if !ok || !info.IsResourceRequest || info.APIGroup != rbacv1.GroupName || (info.Resource != "roles" && info.Resource != "clusterroles") {
		return false
	}
	return g.allowed(ctx, "escalate", schema.GroupResource{Group: info.APIGroup, Resource: info.Resource}, info.Namespace, info.Name)
}

// bindAuthorized: the user has the bind verb on ref, in the binding's
// namespace ("" for a ClusterRoleBinding).
func (g *escalationGuard) bindAuthorized(ctx context.Context, ref rbacv1.RoleRef, namespace string) bool {
	var resource string
	switch ref.Kind {
	case "ClusterRole":
		resource = "clusterroles"
	case "Role":
		resource = "roles"
	default:
		return false
	}
	return g.allowed(ctx, "bind", schema.GroupResource{Group: ref.APIGroup, Resource: resource}, namespace, ref.Name)
}

// confirm refuses rules the user does not hold in the request's namespace.
func (g *escalationGuard) confirm(ctx context.Context, gr schema.GroupResource, name string, rules []rbacv1.PolicyRule) error {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return apierrors.NewForbidden(gr, name, errors.New("no user on context"))
	}
	if err := g.resolver.ConfirmNoEscalation(ctx, u, genericapirequest.NamespaceValue(ctx), rules); err != nil {
		return apierrors.NewForbidden(gr, name, err)
	}
	return nil
}

// onlyGCFields: the update changes nothing but what the garbage collector
// changes (owner references, finalizers), which needs no permission check.
func onlyGCFields(obj, old runtime.Object) bool {
	if old == nil {
		return false
	}
	cp := obj.DeepCopyObject()
	m, err := meta.Accessor(cp)
	if err != nil {
		return false
	}
	o, err := meta.Accessor(old)
	if err != nil {
		return false
	}
	m.SetOwnerReferences(o.GetOwnerReferences())
	m.SetFinalizers(o.GetFinalizers())
	m.SetSelfLink(o.GetSelfLink())
	m.SetManagedFields(o.GetManagedFields())
	return apiequality.Semantic.DeepEqual(cp, old)
}

// fullAuthority is what an aggregationRule needs, since it may gather
// anything.
var fullAuthority = []rbacv1.PolicyRule{
	{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
	{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
}

// roleStorage is the storage of roles or clusterroles.
type roleStorage struct {
	*mainStorage
	guard *escalationGuard
}

func roleRules(obj runtime.Object) (rules []rbacv1.PolicyRule, aggregated bool) {
	switch r := obj.(type) {
	case *rbacv1.Role:
		return r.Rules, false
	case *rbacv1.ClusterRole:
		return r.Rules, r.AggregationRule != nil && len(r.AggregationRule.ClusterRoleSelectors) > 0
	}
	return nil, false
}

// check refuses obj unless the user holds its rules, and, when obj or old
// aggregates, every permission.
func (s *roleStorage) check(ctx context.Context, obj, old runtime.Object) error {
	gr := s.DefaultQualifiedResource
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	rules, aggregated := roleRules(obj)
	if err := s.guard.confirm(ctx, gr, m.GetName(), rules); err != nil {
		return err
	}
	if old != nil {
		_, oldAggregated := roleRules(old)
		aggregated = aggregated || oldAggregated
	}
	if aggregated {
		if err := s.guard.confirm(ctx, gr, m.GetName(), fullAuthority); err != nil {
			return apierrors.NewForbidden(gr, m.GetName(), errors.New("must have cluster-admin privileges to use the aggregationRule"))
		}
	}
	return nil
}

func (s *roleStorage) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	if !privileged(ctx) && !s.guard.escalateAuthorized(ctx) {
		if err := s.check(ctx, obj, nil); err != nil {
			return nil, err
		}
	}
	return s.mainStorage.Create(ctx, obj, createValidation, options)
}

func (s *roleStorage) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	if !privileged(ctx) && !s.guard.escalateAuthorized(ctx) {
		objInfo = rest.WrapUpdatedObjectInfo(objInfo, func(ctx context.Context, obj, old runtime.Object) (runtime.Object, error) {
			if onlyGCFields(obj, old) {
				return obj, nil
			}
			return obj, s.check(ctx, obj, old)
		})
	}
	return s.mainStorage.Update(ctx, name, objInfo, createValidation, updateValidation, forceAllowCreate, options)
}

// bindingStorage is the storage of rolebindings or clusterrolebindings.
type bindingStorage struct {
	*mainStorage
	guard *escalationGuard
}

func bindingRoleRef(obj runtime.Object) rbacv1.RoleRef {
	switch b := obj.(type) {
	case *rbacv1.RoleBinding:
		return b.RoleRef
	case *rbacv1.ClusterRoleBinding:
		return b.RoleRef
	}
	return rbacv1.RoleRef{}
}

// check refuses obj unless the user may bind its role or holds its rules.
func (s *bindingStorage) check(ctx context.Context, obj runtime.Object) error {
	namespace := genericapirequest.NamespaceValue(ctx)
	if s.NamespaceScoped() && namespace == "" {
		return apierrors.NewBadRequest("namespace is required")
	}
	ref := bindingRoleRef(obj)
	if s.guard.bindAuthorized(ctx, ref, namespace) {
		return nil
	}
	rules, err := s.guard.resolver.RoleRefRules(ctx, ref, namespace)
	if err != nil {
		return err
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	return s.guard.confirm(ctx, s.DefaultQualifiedResource, m.GetName(), rules)
}

func (s *bindingStorage) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	if !privileged(ctx) {
		if err := s.check(ctx, obj); err != nil {
			return nil, err
		}
	}
	return s.mainStorage.Create(ctx, obj, createValidation, options)
}

func (s *bindingStorage) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc,
	updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	if !privileged(ctx) {
		objInfo = rest.WrapUpdatedObjectInfo(objInfo, func(ctx context.Context, obj, old runtime.Object) (runtime.Object, error) {
			if onlyGCFields(obj, old) {
				return obj, nil
			}
			return obj, s.check(ctx, obj)
		})
	}
	return s.mainStorage.Update(ctx, name, objInfo, createValidation, updateValidation, forceAllowCreate, options)
}

// guardRBAC puts the escalation checks in front of the four rbac storages.
func guardRBAC(groups []Group, index map[schema.GroupVersion]int, stores map[string]*genericregistry.Store, a authorizer.Authorizer) {
	st := rbacStores{
		roles:               stores[rbacv1.Resource("roles").String()],
		roleBindings:        stores[rbacv1.Resource("rolebindings").String()],
		clusterRoles:        stores[rbacv1.Resource("clusterroles").String()],
		clusterRoleBindings: stores[rbacv1.Resource("clusterrolebindings").String()],
	}
	guard := &escalationGuard{authorizer: a, resolver: &rbac.Resolver{Source: st}}
	m := groups[index[rbacv1.SchemeGroupVersion]].Storage
	for _, r := range []string{"roles", "clusterroles"} {
		m[r] = &roleStorage{mainStorage: m[r].(*mainStorage), guard: guard}
	}
	for _, r := range []string{"rolebindings", "clusterrolebindings"} {
		m[r] = &bindingStorage{mainStorage: m[r].(*mainStorage), guard: guard}
	}
}
