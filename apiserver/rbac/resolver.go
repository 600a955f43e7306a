package rbac

import (
	"context"
	"fmt"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
)

// Source reads the RBAC objects rules are resolved from. The authorizer
// reads informers (Listers); the escalation checks of the rbac storage read
// the storage itself, so a role created a moment ago can be bound at once.
type Source interface {
	GetRole(ctx context.Context, namespace, name string) (*rbacv1.Role, error)
	GetClusterRole(ctx context.Context, name string) (*rbacv1.ClusterRole, error)
	ListRoleBindings(ctx context.Context, namespace string) ([]*rbacv1.RoleBinding, error)
	ListClusterRoleBindings(ctx context.Context) ([]*rbacv1.ClusterRoleBinding, error)
}

// Resolver finds the rules that apply to a user in a namespace: those of the
// roles of every ClusterRoleBinding naming the user, one of its groups or
// its service account, and of every RoleBinding in the namespace that does.
type Resolver struct {
	Source Source
}

// Grant says which binding granted a rule, in upstream's words (it is the
// reason an allowed access review gives).
type Grant struct {
	// Kind is ClusterRoleBinding or RoleBinding.
	Kind      string
	Name      string
	Namespace string
	RoleRef   rbacv1.RoleRef
	Subject   rbacv1.Subject
}

func (g Grant) String() string {
	name, subject := g.Name, g.Subject.Name
	if g.Kind == "RoleBinding" {
		name += "/" + g.Namespace
	}
	if g.Subject.Kind == rbacv1.ServiceAccountKind {
		ns := g.Subject.Namespace
		if ns == "" {
			ns = g.Namespace
		}
		subject += "/" + ns
	}
	return fmt.Sprintf("%s %q of %s %q to %s %q", g.Kind, name, g.RoleRef.Kind, g.RoleRef.Name, g.Subject.Kind, subject)
}

// VisitRules calls visit with each rule that applies to u in namespace (all
// namespaces: cluster bindings only) and the grant it comes from, and with
// each error met resolving a binding (rule nil). Rules only add, so a caller
// may decide on the rules found despite errors. visit returns false to stop.
func (r *Resolver) VisitRules(ctx context.Context, u user.Info, namespace string, visit func(g *Grant, rule *rbacv1.PolicyRule, err error) bool) {
	crbs, err := r.Source.ListClusterRoleBindings(ctx)
	if err != nil && !visit(nil, nil, err) {
		return
	}
	for _, b := range crbs {
		i, ok := subjectIndex(u, b.Subjects, "")
		if !ok {
			continue
		}
		rules, err := r.RoleRefRules(ctx, b.RoleRef, "")
		if err != nil {
			if !visit(nil, nil, err) {
				return
			}
			continue
		}
		g := &Grant{Kind: "ClusterRoleBinding", Name: b.Name, RoleRef: b.RoleRef, Subject: b.Subjects[i]}
		for j := range rules {
			if !visit(g, &rules[j], nil) {
				return
			}
		}
	}
	if namespace == "" {
		return
	}
	rbs, err := r.Source.ListRoleBindings(ctx, namespace)
	if err != nil && !visit(nil, nil, err) {
		return
	}
	for _, b := range rbs {
		i, ok := subjectIndex(u, b.Subjects, namespace)
		if !ok {
			continue
		}
		rules, err := r.RoleRefRules(ctx, b.RoleRef, namespace)
		if err != nil {
			if !visit(nil, nil, err) {
				return
			}
			continue
		}
		g := &Grant{Kind: "RoleBinding", Name: b.Name, Namespace: namespace, RoleRef: b.RoleRef, Subject: b.Subjects[i]}
		for j := range rules {
			if !visit(g, &rules[j], nil) {
				return
			}
		}
	}
}

// Rules are every rule that applies to u in namespace, and the errors met
// finding them (the rules are then those that could be found).
func (r *Resolver) Rules(ctx context.Context, u user.Info, namespace string) ([]rbacv1.PolicyRule, error) {
	var rules []rbacv1.PolicyRule
	var errs []error
	r.VisitRules(ctx, u, namespace, func(_ *Grant, rule *rbacv1.PolicyRule, err error) bool {
		if rule != nil {
			rules = append(rules, *rule)
		}
		if err != nil {
			errs = append(errs, err)
		}
		return true
	})
	return rules, utilerrors.NewAggregate(errs)
}

// RoleRefRules are the rules of the role a binding in namespace ("" for a
// ClusterRoleBinding) refers to.
func (r *Resolver) RoleRefRules(ctx context.Context, ref rbacv1.RoleRef, namespace string) ([]rbacv1.PolicyRule, error) {
	switch ref.Kind {
	case "ClusterRole":
		role, err := r.Source.GetClusterRole(ctx, ref.Name)
		if err != nil {
			return nil, err
		}
		return role.Rules, nil
	case "Role":
		role, err := r.Source.GetRole(ctx, namespace, ref.Name)
		if err != nil {
			return nil, err
		}
		return role.Rules, nil
	}
	return nil, fmt.Errorf("unsupported role reference kind: %q", ref.Kind)
}

// subjectIndex is the index of the first of subjects that is u. A
// ServiceAccount subject with no namespace, in a RoleBinding, means the
// binding's namespace.
func subjectIndex(u user.Info, subjects []rbacv1.Subject, bindingNamespace string) (int, bool) {
	for i, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			if u.GetName() == s.Name {
				return i, true
			}
		case rbacv1.GroupKind:
			if slices.Contains(u.GetGroups(), s.Name) {
				return i, true
			}
		case rbacv1.ServiceAccountKind:
			ns := s.Namespace
			if ns == "" {
				ns = bindingNamespace
			}
			if ns != "" && u.GetName() == serviceaccount.MakeUsername(ns, s.Name) {
				return i, true
			}
		}
	}
	return 0, false
}
