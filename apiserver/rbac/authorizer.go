// Package rbac authorizes requests by the rbac.authorization.k8s.io/v1
// objects, as kube-apiserver's RBAC authorizer does: a request is allowed
// when a rule of a role bound to the user (or one of its groups, or its
// service account) covers it. ClusterRoleBindings grant everywhere,
// RoleBindings within their namespace; nothing denies. The bootstrap policy
// (bootstrap.go) holds the roles every cluster starts with.
package rbac

import (
	"context"
	"fmt"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"
	rbacvalidation "k8s.io/component-helpers/auth/rbac/validation"
)

// Listers read the RBAC objects (from informers, so authorizing costs no
// request to storage).
type Listers struct {
	Roles               rbaclisters.RoleLister
	RoleBindings        rbaclisters.RoleBindingLister
	ClusterRoles        rbaclisters.ClusterRoleLister
	ClusterRoleBindings rbaclisters.ClusterRoleBindingLister
}

// Authorizer is the RBAC authorizer.
type Authorizer struct {
	Listers
}

var (
	_ authorizer.Authorizer   = &Authorizer{}
	_ authorizer.RuleResolver = &Authorizer{}
)

// Authorize implements authorizer.Authorizer.
func (a *Authorizer) Authorize(_ context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	u := attrs.GetUser()
	if u == nil {
		return authorizer.DecisionNoOpinion, "no user", nil
	}
	want := requestRule(attrs)
	for _, b := range a.bindings(u, attrs.GetNamespace()) {
		rules, err := a.rules(b.roleRef, b.namespace)
		if err != nil {
			continue
		}
		if ok, _ := rbacvalidation.Covers(rules, []rbacv1.PolicyRule{want}); ok {
			return authorizer.DecisionAllow, fmt.Sprintf("RBAC: allowed by %s", b.describe), nil
		}
	}
	return authorizer.DecisionNoOpinion, "", nil
}

// ConditionsAwareAuthorize implements authorizer.Authorizer: RBAC decides
// without conditions.
func (a *Authorizer) ConditionsAwareAuthorize(ctx context.Context, attrs authorizer.Attributes) authorizer.ConditionsAwareDecision {
	return authorizer.ConditionsAwareDecisionFromParts(a.Authorize(ctx, attrs))
}

// EvaluateConditions implements authorizer.Authorizer; RBAC issues no
// conditional decisions, so there is nothing to evaluate.
func (a *Authorizer) EvaluateConditions(context.Context, authorizer.ConditionsAwareDecision, authorizer.ConditionsData) (authorizer.Decision, string, error) {
	return authorizer.DecisionDeny, "", authorizer.ErrorConditionEvaluationNotSupported
}

// RulesFor implements authorizer.RuleResolver (SelfSubjectRulesReview).
func (a *Authorizer) RulesFor(_ context.Context, u user.Info, namespace string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	var res []authorizer.ResourceRuleInfo
	var nonRes []authorizer.NonResourceRuleInfo
	for _, b := range a.bindings(u, namespace) {
		rules, err := a.rules(b.roleRef, b.namespace)
		if err != nil {
			continue
		}
		for _, r := range rules {
			if len(r.NonResourceURLs) > 0 {
				nonRes = append(nonRes, &authorizer.DefaultNonResourceRuleInfo{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
				continue
			}
			res = append(res, &authorizer.DefaultResourceRuleInfo{Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources, ResourceNames: r.ResourceNames})
		}
	}
	return res, nonRes, false, nil
}

// requestRule is the request as the smallest rule that would allow it.
func requestRule(attrs authorizer.Attributes) rbacv1.PolicyRule {
	if !attrs.IsResourceRequest() {
		return rbacv1.PolicyRule{Verbs: []string{attrs.GetVerb()}, NonResourceURLs: []string{attrs.GetPath()}}
	}
	resource := attrs.GetResource()
	if sub := attrs.GetSubresource(); sub != "" {
		resource += "/" + sub
	}
	r := rbacv1.PolicyRule{Verbs: []string{attrs.GetVerb()}, APIGroups: []string{attrs.GetAPIGroup()}, Resources: []string{resource}}
	if name := attrs.GetName(); name != "" {
		r.ResourceNames = []string{name}
	}
	return r
}

type binding struct {
	roleRef   rbacv1.RoleRef
	namespace string // where a Role is looked up; "" for cluster bindings
	describe  string
}

// bindings are the bindings that grant u something in namespace (cluster
// bindings always).
func (a *Authorizer) bindings(u user.Info, namespace string) []binding {
	var out []binding
	if crbs, err := a.ClusterRoleBindings.List(labels.Everything()); err == nil {
		for _, b := range crbs {
			if appliesTo(u, b.Subjects, "") {
				out = append(out, binding{roleRef: b.RoleRef, describe: "ClusterRoleBinding " + b.Name})
			}
		}
	}
	if namespace == "" {
		return out
	}
	if rbs, err := a.RoleBindings.RoleBindings(namespace).List(labels.Everything()); err == nil {
		for _, b := range rbs {
			if appliesTo(u, b.Subjects, namespace) {
				out = append(out, binding{roleRef: b.RoleRef, namespace: namespace, describe: "RoleBinding " + namespace + "/" + b.Name})
			}
		}
	}
	return out
}

// rules are the rules of the role a binding refers to.
func (a *Authorizer) rules(ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "ClusterRole":
		r, err := a.ClusterRoles.Get(ref.Name)
		if err != nil {
			return nil, err
		}
		return r.Rules, nil
	case "Role":
		if namespace == "" {
			return nil, fmt.Errorf("a Role outside a namespace")
		}
		r, err := a.Roles.Roles(namespace).Get(ref.Name)
		if err != nil {
			return nil, err
		}
		return r.Rules, nil
	}
	return nil, fmt.Errorf("unknown role kind %q", ref.Kind)
}

// appliesTo reports whether one of subjects is u. A ServiceAccount subject
// with no namespace, in a RoleBinding, means the binding's namespace.
func appliesTo(u user.Info, subjects []rbacv1.Subject, bindingNamespace string) bool {
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			if u.GetName() == s.Name {
				return true
			}
		case rbacv1.GroupKind:
			if slices.Contains(u.GetGroups(), s.Name) {
				return true
			}
		case rbacv1.ServiceAccountKind:
			ns := s.Namespace
			if ns == "" {
				ns = bindingNamespace
			}
			if ns != "" && u.GetName() == serviceaccount.MakeUsername(ns, s.Name) {
				return true
			}
		}
	}
	return false
}
