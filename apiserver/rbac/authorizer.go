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

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
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

// GetRole implements Source.
func (l Listers) GetRole(_ context.Context, namespace, name string) (*rbacv1.Role, error) {
	return l.Roles.Roles(namespace).Get(name)
}

// GetClusterRole implements Source.
func (l Listers) GetClusterRole(_ context.Context, name string) (*rbacv1.ClusterRole, error) {
	return l.ClusterRoles.Get(name)
}

// ListRoleBindings implements Source.
func (l Listers) ListRoleBindings(_ context.Context, namespace string) ([]*rbacv1.RoleBinding, error) {
	return l.RoleBindings.RoleBindings(namespace).List(labels.Everything())
}

// ListClusterRoleBindings implements Source.
func (l Listers) ListClusterRoleBindings(context.Context) ([]*rbacv1.ClusterRoleBinding, error) {
	return l.ClusterRoleBindings.List(labels.Everything())
}

// Authorizer is the RBAC authorizer.
type Authorizer struct {
	Listers
}

var (
	_ authorizer.Authorizer   = &Authorizer{}
	_ authorizer.RuleResolver = &Authorizer{}
	_ Source                  = Listers{}
)

func (a *Authorizer) resolver() *Resolver { return &Resolver{Source: a.Listers} }

// Authorize implements authorizer.Authorizer. A denial gives as its reason
// the errors met resolving the user's bindings (a role that is missing), as
// upstream's does.
func (a *Authorizer) Authorize(ctx context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	u := attrs.GetUser()
	if u == nil {
		return authorizer.DecisionNoOpinion, "no user", nil
	}
	want := []rbacv1.PolicyRule{requestRule(attrs)}
	var allowedBy *Grant
	var errs []error
	a.resolver().VisitRules(ctx, u, attrs.GetNamespace(), func(g *Grant, rule *rbacv1.PolicyRule, err error) bool {
		if rule != nil {
			if ok, _ := rbacvalidation.Covers([]rbacv1.PolicyRule{*rule}, want); ok {
				allowedBy = g
				return false
			}
		}
		if err != nil {
			errs = append(errs, err)
		}
		return true
	})
	if allowedBy != nil {
		return authorizer.DecisionAllow, "RBAC: allowed by " + allowedBy.String(), nil
	}
	if len(errs) > 0 {
		return authorizer.DecisionNoOpinion, fmt.Sprintf("RBAC: %v", utilerrors.NewAggregate(errs)), nil
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

// RulesFor implements authorizer.RuleResolver (SelfSubjectRulesReview): the
// user's rules in namespace, a rule naming both resources and URLs counted
// as both; never incomplete, with the errors met resolving its bindings.
func (a *Authorizer) RulesFor(ctx context.Context, u user.Info, namespace string) ([]authorizer.ResourceRuleInfo, []authorizer.NonResourceRuleInfo, bool, error) {
	var res []authorizer.ResourceRuleInfo
	var nonRes []authorizer.NonResourceRuleInfo
	rules, err := a.resolver().Rules(ctx, u, namespace)
	for _, r := range rules {
		if len(r.Resources) > 0 {
			res = append(res, &authorizer.DefaultResourceRuleInfo{Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources, ResourceNames: r.ResourceNames})
		}
		if len(r.NonResourceURLs) > 0 {
			nonRes = append(nonRes, &authorizer.DefaultNonResourceRuleInfo{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})
		}
	}
	return res, nonRes, false, err
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
