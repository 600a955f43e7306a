package clusterroleaggregation

import (
	"context"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Updating a role with rules the controller itself does not hold needs
// escalate, as upstream's controller has.
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=get;list;watch;update;escalate

// Reconciler aggregates one ClusterRole.
type Reconciler struct {
	client client.Client
}

// SetupWithManager adds the controller to mgr. Any ClusterRole's change may
// change what an aggregating role selects, so every change wakes every
// aggregating role (there are few).
func SetupWithManager(mgr ctrl.Manager) error {
	r := &Reconciler{client: mgr.GetClient()}
	aggregators := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		var roles rbacv1.ClusterRoleList
		if err := r.client.List(ctx, &roles); err != nil {
			return nil
		}
		var out []reconcile.Request
		for _, role := range roles.Items {
			if role.AggregationRule != nil {
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: role.Name}})
			}
		}
		return out
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("clusterrole-aggregation").
		Watches(&rbacv1.ClusterRole{}, aggregators).
		Complete(r)
}

// Reconcile sets the aggregating role's rules to what its selectors gather.
func (r *Reconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var role rbacv1.ClusterRole
	if err := r.client.Get(ctx, req.NamespacedName, &role); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if role.AggregationRule == nil {
		return reconcile.Result{}, nil
	}
	var all rbacv1.ClusterRoleList
	if err := r.client.List(ctx, &all); err != nil {
		return reconcile.Result{}, err
	}
	rules, err := Aggregate(role.Name, role.AggregationRule, all.Items)
	if err != nil {
		return reconcile.Result{}, err
	}
	if equality.Semantic.DeepEqual(rules, role.Rules) {
		return reconcile.Result{}, nil
	}
	role.Rules = rules
	return reconcile.Result{}, r.client.Update(ctx, &role)
}

// Aggregate returns the rules of the roles (other than self) that one of
// rule's selectors matches, in role-name order, each rule once.
func Aggregate(self string, rule *rbacv1.AggregationRule, roles []rbacv1.ClusterRole) ([]rbacv1.PolicyRule, error) {
	var selectors []labels.Selector
	for i := range rule.ClusterRoleSelectors {
		s, err := metav1.LabelSelectorAsSelector(&rule.ClusterRoleSelectors[i])
		if err != nil {
			return nil, err
		}
		selectors = append(selectors, s)
	}
	sorted := append([]rbacv1.ClusterRole(nil), roles...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	var out []rbacv1.PolicyRule
	for _, role := range sorted {
		if role.Name == self || !matchesAny(selectors, labels.Set(role.Labels)) {
			continue
		}
		for _, pr := range role.Rules {
			if !contains(out, pr) {
				out = append(out, pr)
			}
		}
	}
	return out, nil
}

func matchesAny(selectors []labels.Selector, l labels.Set) bool {
	for _, s := range selectors {
		if s.Matches(l) {
			return true
		}
	}
	return false
}

func contains(rules []rbacv1.PolicyRule, r rbacv1.PolicyRule) bool {
	for _, x := range rules {
		if equality.Semantic.DeepEqual(x, r) {
			return true
		}
	}
	return false
}
