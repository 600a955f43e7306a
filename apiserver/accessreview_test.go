package apiserver_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// impersonating is a client acting as name (and groups) through the
// admin's impersonation, as kubectl --as does.
func impersonating(cfg *rest.Config, name string, groups ...string) kubernetes.Interface {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: name, Groups: groups}
	return kubernetes.NewForConfigOrDie(c)
}

// must fails the test on err (for the setup calls whose result is unused).
func must(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// kubectlAny is the first kubectl kubectls finds (the v1.37 one when built).
func kubectlAny(t *testing.T) string {
	t.Helper()
	found := kubectls(t)
	if b, ok := found["kubectl-1.37"]; ok {
		return b
	}
	for _, b := range found {
		return b
	}
	return ""
}

// compareControlPlanes runs observe against every control plane and
// requires kubeseed's observations to be upstream's, key by key.
func compareControlPlanes(t *testing.T, observe func(t *testing.T, cp controlPlane) map[string]string) {
	t.Helper()
	seen := map[string]map[string]string{}
	for name, cp := range controlPlanes(t) {
		t.Run(name, func(t *testing.T) { seen[name] = observe(t, cp) })
	}
	up, ours := seen["upstream"], seen["kubeseed"]
	if up == nil || ours == nil {
		return
	}
	keys := map[string]bool{}
	for k := range up {
		keys[k] = true
	}
	for k := range ours {
		keys[k] = true
	}
	for k := range keys {
		if up[k] != ours[k] {
			t.Errorf("%s differs from upstream:\nkubeseed: %s\nupstream: %s", k, ours[k], up[k])
		}
	}
}

// TestAccessReviews: what kubectl auth can-i (--list, --as, -n) prints and
// what SubjectAccessReview, LocalSubjectAccessReview and
// SelfSubjectRulesReview answer, for a user and a service account, are
// upstream's; a binding to a missing role shows as the review's evaluation
// error.
func TestAccessReviews(t *testing.T) {
	compareControlPlanes(t, func(t *testing.T, cp controlPlane) map[string]string {
		ctx := ctxT(t)
		admin := kubernetes.NewForConfigOrDie(cp.config)
		rb := admin.RbacV1()
		ok := must(t)
		const ns = "reviews-a"
		ok(admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}))
		ok(admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{}))
		ok(rb.Roles(ns).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"}, Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get", "list", "watch"}, APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}},
			{Verbs: []string{"update"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"settings"}},
		}}, metav1.CreateOptions{}))
		ok(rb.RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "readers"},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "jane"},
				{Kind: rbacv1.ServiceAccountKind, Name: "reader"}}}, metav1.CreateOptions{}))
		ok(rb.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "reviews-test"}, Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get"}, NonResourceURLs: []string{"/metrics", "/logs/*"}},
			{Verbs: []string{"list"}, APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets"}},
		}}, metav1.CreateOptions{}))
		ok(rb.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reviews-test"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "reviews-test"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "jane"}}}, metav1.CreateOptions{}))
		// Bound to a role nobody created: the review says so.
		ok(rb.RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ghostly"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "ghost"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "jane"}}}, metav1.CreateOptions{}))

		sar := func(spec authorizationv1.SubjectAccessReviewSpec) (*authorizationv1.SubjectAccessReview, error) {
			return admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: spec}, metav1.CreateOptions{})
		}
		getPods := &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "get", Resource: "pods"}
		waitFor(t, 10*time.Second, "the bindings to take effect", func() error {
			for _, u := range []string{"jane", "system:serviceaccount:" + ns + ":reader"} {
				r, err := sar(authorizationv1.SubjectAccessReviewSpec{User: u, ResourceAttributes: getPods})
				if err != nil {
					return err
				}
				if !r.Status.Allowed {
					return fmt.Errorf("%s may not get pods yet: %+v", u, r.Status)
				}
			}
			r, err := sar(authorizationv1.SubjectAccessReviewSpec{User: "jane", NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"}})
			if err != nil || !r.Status.Allowed {
				return fmt.Errorf("jane may not get /metrics yet: %+v %v", r, err)
			}
			return nil
		})

		seen := map[string]string{}
		bin := kubectlAny(t)
		sa := "system:serviceaccount:" + ns + ":reader"
		for name, args := range map[string][]string{
			"can-i --list as jane in " + ns:     {"auth", "can-i", "--list", "--as=jane", "-n", ns},
			"can-i --list as jane in default":   {"auth", "can-i", "--list", "--as=jane"},
			"can-i --list as the sa in " + ns:   {"auth", "can-i", "--list", "--as=" + sa, "-n", ns},
			"can-i --list as the sa in default": {"auth", "can-i", "--list", "--as=" + sa, "-n", "default"},
			"can-i get pods as the sa":          {"auth", "can-i", "get", "pods", "--as=" + sa, "-n", ns},
			"can-i delete pods as the sa":       {"auth", "can-i", "delete", "pods", "--as=" + sa, "-n", ns},
			"can-i update configmap/settings":   {"auth", "can-i", "update", "configmap/settings", "--as=jane", "-n", ns},
			"can-i update configmap/other":      {"auth", "can-i", "update", "configmap/other", "--as=jane", "-n", ns},
			"can-i get /logs/kube":              {"auth", "can-i", "get", "/logs/kube", "--as=jane"},
			"can-i list deployments.apps":       {"auth", "can-i", "list", "deployments.apps", "--as=jane", "-A"},
		} {
			out, err := kubectlErr(bin, cp.kubeconfig, "", args...)
			seen[name] = out
			if strings.Contains(name, "--list") && err != nil {
				t.Errorf("kubectl %s: %v", strings.Join(args, " "), err)
			}
		}
		for _, want := range []string{"pods/log", "[settings]", "deployments.apps", "[/metrics]", "[/logs/*]", "selfsubjectrulesreviews.authorization.k8s.io"} {
			if !strings.Contains(seen["can-i --list as jane in "+ns], want) {
				t.Errorf("can-i --list as jane lacks %q:\n%s", want, seen["can-i --list as jane in "+ns])
			}
		}
		if strings.Contains(seen["can-i --list as jane in default"], "pods/log") {
			t.Errorf("can-i --list as jane in default lists the %s role:\n%s", ns, seen["can-i --list as jane in default"])
		}
		if out := seen["can-i get pods as the sa"]; strings.TrimSpace(out) != "yes" {
			t.Errorf("can-i get pods as the service account: %q, want yes", out)
		}

		// The rules review itself, as the user asks it.
		jane := impersonating(cp.config, "jane")
		rules, err := jane.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, &authorizationv1.SelfSubjectRulesReview{
			Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: ns}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		seen["rules review incomplete"] = fmt.Sprint(rules.Status.Incomplete)
		seen["rules review evaluationError"] = rules.Status.EvaluationError
		seen["rules review rules"] = sortedRules(rules.Status)
		if !strings.Contains(rules.Status.EvaluationError, `"ghost" not found`) || rules.Status.Incomplete {
			t.Errorf("rules review with a missing role: %+v", rules.Status)
		}
		_, err = jane.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx, &authorizationv1.SelfSubjectRulesReview{}, metav1.CreateOptions{})
		seen["rules review without a namespace"] = fmt.Sprint(err)

		// SubjectAccessReview: allowed, with the grant as the reason; denied,
		// with the missing role as the reason; invalid specs.
		for name, spec := range map[string]authorizationv1.SubjectAccessReviewSpec{
			"sar get pods as jane":    {User: "jane", ResourceAttributes: getPods},
			"sar get pods as the sa":  {User: sa, Groups: []string{"system:serviceaccounts"}, ResourceAttributes: getPods},
			"sar delete pods as jane": {User: "jane", ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "delete", Resource: "pods"}},
			"sar get /metrics":        {User: "jane", NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"}},
			"sar as a group":          {Groups: []string{"system:masters"}, ResourceAttributes: getPods},
			"sar with no user":        {ResourceAttributes: getPods},
			"sar with both":           {User: "jane", ResourceAttributes: getPods, NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"}},
			"sar with neither":        {User: "jane"},
		} {
			r, err := sar(spec)
			if err != nil {
				seen[name] = err.Error()
				continue
			}
			seen[name] = fmt.Sprintf("allowed=%v denied=%v reason=%q evaluationError=%q", r.Status.Allowed, r.Status.Denied, r.Status.Reason, r.Status.EvaluationError)
		}
		if !strings.Contains(seen["sar get pods as jane"], "allowed=true") || !strings.Contains(seen["sar delete pods as jane"], "allowed=false") {
			t.Errorf("subject access reviews: %q, %q", seen["sar get pods as jane"], seen["sar delete pods as jane"])
		}

		// LocalSubjectAccessReview: within its namespace only.
		for name, review := range map[string]*authorizationv1.LocalSubjectAccessReview{
			"lsar get pods as jane": {ObjectMeta: metav1.ObjectMeta{Namespace: ns}, Spec: authorizationv1.SubjectAccessReviewSpec{User: "jane", ResourceAttributes: getPods}},
			"lsar other namespace": {ObjectMeta: metav1.ObjectMeta{Namespace: ns}, Spec: authorizationv1.SubjectAccessReviewSpec{User: "jane",
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "default", Verb: "get", Resource: "pods"}}},
			"lsar non-resource": {ObjectMeta: metav1.ObjectMeta{Namespace: ns}, Spec: authorizationv1.SubjectAccessReviewSpec{User: "jane",
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"}}},
		} {
			r, err := admin.AuthorizationV1().LocalSubjectAccessReviews(ns).Create(ctx, review, metav1.CreateOptions{})
			if err != nil {
				seen[name] = err.Error()
				continue
			}
			seen[name] = fmt.Sprintf("allowed=%v reason=%q", r.Status.Allowed, r.Status.Reason)
		}
		if !strings.Contains(seen["lsar get pods as jane"], "allowed=true") {
			t.Errorf("local subject access review: %s", seen["lsar get pods as jane"])
		}

		// The self review is invalid without exactly one question.
		_, err = jane.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{}, metav1.CreateOptions{})
		seen["ssar with neither"] = fmt.Sprint(err)
		return seen
	})
}

// sortedRules prints a rules review's rules in a fixed order (bindings are
// visited in no particular one).
func sortedRules(s authorizationv1.SubjectRulesReviewStatus) string {
	var lines []string
	for _, r := range s.ResourceRules {
		lines = append(lines, fmt.Sprintf("%v %v %v %v", r.APIGroups, r.Resources, r.ResourceNames, r.Verbs))
	}
	for _, r := range s.NonResourceRules {
		lines = append(lines, fmt.Sprintf("%v %v", r.NonResourceURLs, r.Verbs))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
