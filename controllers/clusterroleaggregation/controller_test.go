package clusterroleaggregation_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rbacvalidation "k8s.io/component-helpers/auth/rbac/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeseed/kubeseed/controllers/clusterroleaggregation"
	"github.com/kubeseed/kubeseed/test/controllertest"
)

var suite controllertest.Suite

func TestMain(m *testing.M) {
	os.Exit(controllertest.Run(m, &suite, "clusterrole-aggregation"))
}

var (
	readPods  = rbacv1.PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}
	readCrons = rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"stable.example.com"}, Resources: []string{"crontabs"}}
)

func TestAggregate(t *testing.T) {
	rule := &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"to-view": "true"}}}}
	roles := []rbacv1.ClusterRole{
		{ObjectMeta: metav1.ObjectMeta{Name: "b", Labels: map[string]string{"to-view": "true"}}, Rules: []rbacv1.PolicyRule{readCrons, readPods}},
		{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"to-view": "true"}}, Rules: []rbacv1.PolicyRule{readPods}},
		{ObjectMeta: metav1.ObjectMeta{Name: "unlabelled"}, Rules: []rbacv1.PolicyRule{{Verbs: []string{"*"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "self", Labels: map[string]string{"to-view": "true"}}, Rules: []rbacv1.PolicyRule{{Verbs: []string{"delete"}}}},
	}
	got, err := clusterroleaggregation.Aggregate("self", rule, roles)
	if err != nil {
		t.Fatal(err)
	}
	if want := []rbacv1.PolicyRule{readPods, readCrons}; !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("Aggregate = %+v, want %+v (a's first, each rule once, not self's, not unlabelled)", got, want)
	}
	// An empty selector selects every other role, as upstream's.
	everything := &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{}}}
	if got, _ := clusterroleaggregation.Aggregate("self", everything, roles); len(got) != 3 {
		t.Errorf("an empty selector aggregated %v, want the 3 rules of a, b and unlabelled", got)
	}
}

// TestRolesFollowTheirSelectors: an aggregating role gains the rules of a
// ClusterRole labelled for it and loses them when the label goes.
func TestRolesFollowTheirSelectors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	label := map[string]string{"example.com/aggregate-to-crontab-viewer": "true"}
	agg := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "crontab-viewer"},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: label}}}}
	part := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "crontab-viewer-part", Labels: label}, Rules: []rbacv1.PolicyRule{readCrons}}
	for _, r := range []client.Object{agg, part} {
		if err := suite.Client.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = suite.Client.Delete(context.Background(), r) })
	}
	rulesAre := func(want []rbacv1.PolicyRule) func() (bool, string) {
		return func() (bool, string) {
			var got rbacv1.ClusterRole
			if err := suite.Client.Get(ctx, client.ObjectKeyFromObject(agg), &got); err != nil {
				return false, err.Error()
			}
			return equality.Semantic.DeepEqual(got.Rules, want), fmt.Sprintf("rules %+v", got.Rules)
		}
	}
	controllertest.Eventually(t, 20*time.Second, "the part's rules in the aggregate", rulesAre([]rbacv1.PolicyRule{readCrons}))
	part.Labels = nil
	if err := suite.Client.Update(ctx, part); err != nil {
		t.Fatal(err)
	}
	controllertest.Eventually(t, 20*time.Second, "the rules gone with the label", rulesAre(nil))
}

// TestBootstrapRolesAggregate: the bootstrap view, edit and admin roles (on
// both API servers) fill from their system:aggregate-to-* parts, and a
// ClusterRole an operator labels aggregate-to-view reaches all three.
func TestBootstrapRolesAggregate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	has := func(role string, want rbacv1.PolicyRule) func() (bool, string) {
		return func() (bool, string) {
			var got rbacv1.ClusterRole
			if err := suite.Client.Get(ctx, client.ObjectKey{Name: role}, &got); err != nil {
				return false, err.Error()
			}
			if ok, _ := rbacvalidation.Covers(got.Rules, []rbacv1.PolicyRule{want}); ok {
				return true, ""
			}
			return false, fmt.Sprintf("%s's %d rules do not cover %+v", role, len(got.Rules), want)
		}
	}
	viewPods := rbacv1.PolicyRule{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{""}, Resources: []string{"pods", "configmaps"}}
	for _, role := range []string{"view", "edit", "admin"} {
		controllertest.Eventually(t, 20*time.Second, role+" reads pods", has(role, viewPods))
	}
	crd := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "crontabs-view", Labels: map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
		Rules: []rbacv1.PolicyRule{readCrons}}
	if err := suite.Client.Create(ctx, crd); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = suite.Client.Delete(context.Background(), crd) })
	for _, role := range []string{"view", "edit", "admin"} {
		controllertest.Eventually(t, 20*time.Second, role+" reads crontabs", has(role, readCrons))
	}
}
