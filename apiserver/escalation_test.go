package apiserver_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestRBACEscalationPrevention: a user who may write roles and bindings
// grants no more than it holds, as on upstream: a Role or ClusterRole with a
// rule the user lacks, or a binding to such a role, is refused with
// upstream's 403 naming what is missing, unless the user has escalate (on
// roles) or bind (on the role); an aggregationRule needs every permission;
// system:masters may do anything.
func TestRBACEscalationPrevention(t *testing.T) {
	compareControlPlanes(t, func(t *testing.T, cp controlPlane) map[string]string {
		ctx := ctxT(t)
		admin := kubernetes.NewForConfigOrDie(cp.config)
		ok := must(t)
		const ns = "escalation-a"
		ok(admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}))
		ok(admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{}))
		role := func(name string, rules ...rbacv1.PolicyRule) *rbacv1.Role {
			return &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
		}
		clusterRole := func(name string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
			return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
		}
		binding := func(name, kind, roleName string, subjects ...rbacv1.Subject) *rbacv1.RoleBinding {
			return &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: kind, Name: roleName}, Subjects: subjects}
		}
		user := func(name string) rbacv1.Subject {
			return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
		}
		getPods := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}
		rb := admin.RbacV1()

		// gina and the robot manage roles and bindings in the namespace and
		// read its pods; carl manages cluster roles and reads pods everywhere.
		ok(rb.Roles(ns).Create(ctx, role("grantor",
			rbacv1.PolicyRule{Verbs: []string{"create", "update", "get", "patch"}, APIGroups: []string{rbacv1.GroupName}, Resources: []string{"roles", "rolebindings"}},
			rbacv1.PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}), metav1.CreateOptions{}))
		ok(rb.RoleBindings(ns).Create(ctx, binding("grantors", "Role", "grantor", user("gina"),
			rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "robot", Namespace: ns}), metav1.CreateOptions{}))
		ok(rb.ClusterRoles().Create(ctx, clusterRole("escalation-secrets",
			rbacv1.PolicyRule{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"secrets"}}), metav1.CreateOptions{}))
		ok(rb.ClusterRoles().Create(ctx, clusterRole("escalation-pods", getPods), metav1.CreateOptions{}))
		ok(rb.ClusterRoles().Create(ctx, clusterRole("escalation-cluster-grantor",
			rbacv1.PolicyRule{Verbs: []string{"create", "update", "get"}, APIGroups: []string{rbacv1.GroupName}, Resources: []string{"clusterroles", "clusterrolebindings"}},
			getPods), metav1.CreateOptions{}))
		ok(rb.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "escalation-cluster-grantor"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "escalation-cluster-grantor"},
			Subjects: []rbacv1.Subject{user("carl")}}, metav1.CreateOptions{}))
		may := func(who, verb, resource, name string, namespace string) func() error {
			return func() error {
				r, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
					User: who, ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: verb,
						Group: rbacv1.GroupName, Resource: resource, Name: name}}}, metav1.CreateOptions{})
				if err != nil {
					return err
				}
				if !r.Status.Allowed {
					return fmt.Errorf("%s may not %s %s %s yet", who, verb, resource, name)
				}
				return nil
			}
		}
		waitFor(t, 10*time.Second, "gina's and carl's grants", func() error {
			if err := may("gina", "create", "roles", "", ns)(); err != nil {
				return err
			}
			return may("carl", "create", "clusterroles", "", "")()
		})

		seen := map[string]string{}
		result := func(key string) func(any, error) {
			return func(_ any, err error) {
				seen[key] = "ok"
				if err != nil {
					seen[key] = fmt.Sprintf("%s: %s", apierrors.ReasonForError(err), err.Error())
				}
			}
		}
		gina := impersonating(cp.config, "gina").RbacV1()
		robot := impersonating(cp.config, "system:serviceaccount:"+ns+":robot").RbacV1()
		carl := impersonating(cp.config, "carl").RbacV1()
		deletePods := rbacv1.PolicyRule{Verbs: []string{"get", "delete", "deletecollection"}, APIGroups: []string{""}, Resources: []string{"pods"}}
		listSecrets := rbacv1.PolicyRule{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"secrets"}}

		// Roles: what gina holds, then more.
		r, err := gina.Roles(ns).Create(ctx, role("within", rbacv1.PolicyRule{Verbs: []string{"list", "get"}, APIGroups: []string{""}, Resources: []string{"pods"}}), metav1.CreateOptions{})
		result("role within")(r, err)
		result("role beyond")(gina.Roles(ns).Create(ctx, role("beyond", deletePods, listSecrets), metav1.CreateOptions{}))
		result("role beyond by the service account")(robot.Roles(ns).Create(ctx, role("robot-beyond", deletePods), metav1.CreateOptions{}))
		if err == nil {
			r.Rules = append(r.Rules, deletePods)
			result("role within updated beyond")(gina.Roles(ns).Update(ctx, r, metav1.UpdateOptions{}))
		}
		result("role beyond by system:masters")(rb.Roles(ns).Create(ctx, role("masters-beyond", deletePods, listSecrets), metav1.CreateOptions{}))

		// Bindings: to a role whose rules gina holds, to one she lacks, to
		// one that does not exist.
		result("binding to within")(gina.RoleBindings(ns).Create(ctx, binding("to-within", "Role", "within", user("x")), metav1.CreateOptions{}))
		result("binding to escalation-pods")(gina.RoleBindings(ns).Create(ctx, binding("to-pods", "ClusterRole", "escalation-pods", user("x")), metav1.CreateOptions{}))
		result("binding to escalation-secrets")(gina.RoleBindings(ns).Create(ctx, binding("to-secrets", "ClusterRole", "escalation-secrets", user("x")), metav1.CreateOptions{}))
		result("binding to a missing role")(gina.RoleBindings(ns).Create(ctx, binding("to-ghost", "Role", "ghost", user("x")), metav1.CreateOptions{}))
		result("binding to masters-beyond")(gina.RoleBindings(ns).Create(ctx, binding("to-beyond", "Role", "masters-beyond", user("x")), metav1.CreateOptions{}))

		// What stock kubectl prints.
		bin := kubectlAny(t)
		seen["kubectl create role"], _ = kubectlErr(bin, cp.kubeconfig, "", "create", "role", "kubectl-beyond", "--verb=delete", "--resource=pods", "-n", ns, "--as=gina")
		seen["kubectl create rolebinding"], _ = kubectlErr(bin, cp.kubeconfig, "", "create", "rolebinding", "kubectl-secrets", "--clusterrole=escalation-secrets", "--user=x", "-n", ns, "--as=gina")
		if !strings.Contains(seen["kubectl create role"], "is attempting to grant RBAC permissions not currently held") {
			t.Errorf("kubectl create role beyond what gina holds: %s", seen["kubectl create role"])
		}

		// bind on one cluster role in the namespace, escalate on roles.
		ok(rb.Roles(ns).Create(ctx, role("binder", rbacv1.PolicyRule{Verbs: []string{"bind"}, APIGroups: []string{rbacv1.GroupName},
			Resources: []string{"clusterroles"}, ResourceNames: []string{"escalation-secrets"}}), metav1.CreateOptions{}))
		ok(rb.Roles(ns).Create(ctx, role("escalator", rbacv1.PolicyRule{Verbs: []string{"escalate"}, APIGroups: []string{rbacv1.GroupName},
			Resources: []string{"roles"}}), metav1.CreateOptions{}))
		ok(rb.RoleBindings(ns).Create(ctx, binding("binder", "Role", "binder", user("gina")), metav1.CreateOptions{}))
		ok(rb.RoleBindings(ns).Create(ctx, binding("escalator", "Role", "escalator", user("gina")), metav1.CreateOptions{}))
		waitFor(t, 10*time.Second, "bind and escalate", func() error {
			if err := may("gina", "bind", "clusterroles", "escalation-secrets", ns)(); err != nil {
				return err
			}
			return may("gina", "escalate", "roles", "", ns)()
		})
		result("binding to escalation-secrets with bind")(gina.RoleBindings(ns).Create(ctx, binding("to-secrets", "ClusterRole", "escalation-secrets", user("x")), metav1.CreateOptions{}))
		result("binding to masters-beyond with bind on another")(gina.RoleBindings(ns).Create(ctx, binding("to-beyond", "Role", "masters-beyond", user("x")), metav1.CreateOptions{}))
		result("role beyond with escalate")(gina.Roles(ns).Create(ctx, role("beyond", deletePods, listSecrets), metav1.CreateOptions{}))

		// Cluster roles and cluster role bindings.
		result("clusterrole within")(carl.ClusterRoles().Create(ctx, clusterRole("escalation-carl", getPods), metav1.CreateOptions{}))
		result("clusterrole beyond")(carl.ClusterRoles().Create(ctx, clusterRole("escalation-carl-beyond", getPods,
			rbacv1.PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"nodes"}},
			rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics", "/logs"}}), metav1.CreateOptions{}))
		aggregated := clusterRole("escalation-carl-aggregated")
		aggregated.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"escalation-test": "true"}}}}
		result("clusterrole aggregating")(carl.ClusterRoles().Create(ctx, aggregated, metav1.CreateOptions{}))
		crb := func(name, roleName string) *rbacv1.ClusterRoleBinding {
			return &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name},
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: roleName}, Subjects: []rbacv1.Subject{user("x")}}
		}
		result("clusterrolebinding within")(carl.ClusterRoleBindings().Create(ctx, crb("escalation-carl", "escalation-pods"), metav1.CreateOptions{}))
		result("clusterrolebinding to cluster-admin")(carl.ClusterRoleBindings().Create(ctx, crb("escalation-carl-admin", "cluster-admin"), metav1.CreateOptions{}))

		for key, want := range map[string]string{
			"role within":                             "ok",
			"role beyond":                             "Forbidden: roles.rbac.authorization.k8s.io \"beyond\" is forbidden: user \"gina\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\" \"deletecollection\"]}\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"list\"]}",
			"role beyond by system:masters":           "ok",
			"binding to within":                       "ok",
			"binding to escalation-secrets":           "Forbidden: rolebindings.rbac.authorization.k8s.io \"to-secrets\" is forbidden: user \"gina\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"list\"]}",
			"binding to escalation-secrets with bind": "ok",
			"role beyond with escalate":               "ok",
			"clusterrole aggregating":                 "Forbidden: clusterroles.rbac.authorization.k8s.io \"escalation-carl-aggregated\" is forbidden: must have cluster-admin privileges to use the aggregationRule",
		} {
			if seen[key] != want {
				t.Errorf("%s:\n got %s\nwant %s", key, seen[key], want)
			}
		}
		return seen
	})
}
