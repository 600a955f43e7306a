package apiserver_test

import (
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

var podReader = []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}}}

func TestRBACRoundTripAndRoleRefImmutability(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	rbac := s.client.RbacV1()

	// Names are path segments, so upstream's colon-separated names are fine.
	role, err := rbac.Roles("default").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "system:pod-reader"}, Rules: podReader}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rbac.Roles("default").Get(ctx, "system:pod-reader", metav1.GetOptions{}); err != nil || got.UID != role.UID || len(got.Rules) != 1 {
		t.Fatalf("get role: %+v %v", got, err)
	}
	_, err = rbac.Roles("default").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "no-verbs"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}}}}, metav1.CreateOptions{})
	hasCause(t, err, "rules[0].verbs")
	_, err = rbac.Roles("default").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "urls"},
		Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/healthz"}, Verbs: []string{"get"}}}}, metav1.CreateOptions{})
	hasCause(t, err, "rules[0].nonResourceURLs")

	rb, err := rbac.RoleBindings("default").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "read-pods"},
		RoleRef:    rbacv1.RoleRef{Kind: "Role", Name: "system:pod-reader"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "jane"}, {Kind: rbacv1.GroupKind, Name: "devs"},
			{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: "default"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rb.RoleRef.APIGroup != rbacv1.GroupName || rb.Subjects[0].APIGroup != rbacv1.GroupName || rb.Subjects[2].APIGroup != "" {
		t.Errorf("binding not defaulted: %+v %+v", rb.RoleRef, rb.Subjects)
	}
	rb.RoleRef.Name = "other"
	_, err = rbac.RoleBindings("default").Update(ctx, rb, metav1.UpdateOptions{})
	if got := causes(t, err); len(got) != 1 || got[0] != "roleRef" {
		t.Errorf("roleRef change: causes %v, want [roleRef]", got)
	}
	rb.RoleRef.Name = "system:pod-reader"
	rb.Subjects = rb.Subjects[:1]
	if _, err := rbac.RoleBindings("default").Update(ctx, rb, metav1.UpdateOptions{}); err != nil {
		t.Errorf("subject change: %v", err)
	}
	_, err = rbac.RoleBindings("default").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		RoleRef: rbacv1.RoleRef{Kind: "Pod", Name: "x"}, Subjects: []rbacv1.Subject{{Kind: "Robot", Name: "r"}}}, metav1.CreateOptions{})
	hasCause(t, err, "roleRef.kind")
	hasCause(t, err, "subjects[0].kind")

	if _, err := rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "test:pod-reader"},
		Rules: append(podReader, rbacv1.PolicyRule{NonResourceURLs: []string{"/healthz"}, Verbs: []string{"get"}})}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cr, err := rbac.ClusterRoles().Get(ctx, "test:pod-reader", metav1.GetOptions{})
	if err != nil || cr.Namespace != "" || len(cr.Rules) != 2 {
		t.Fatalf("get cluster role: %+v %v", cr, err)
	}
	crb, err := rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "test:read-pods"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "test:pod-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "default", Namespace: "kube-system"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := rbac.ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) == 0 {
		t.Fatalf("list: %v %v", list, err)
	}
	crb.RoleRef.Name = "cluster-admin"
	_, err = rbac.ClusterRoleBindings().Update(ctx, crb, metav1.UpdateOptions{})
	if got := causes(t, err); len(got) != 1 || got[0] != "roleRef" {
		t.Errorf("cluster roleRef change: causes %v, want [roleRef]", got)
	}
	// A cluster role binding refers to cluster roles only, and its service
	// accounts need a namespace.
	_, err = rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		RoleRef:  rbacv1.RoleRef{Kind: "Role", Name: "x"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "default"}}}, metav1.CreateOptions{})
	hasCause(t, err, "roleRef.kind")
	hasCause(t, err, "subjects[0].namespace")

	for _, del := range []error{
		rbac.RoleBindings("default").Delete(ctx, "read-pods", metav1.DeleteOptions{}),
		rbac.Roles("default").Delete(ctx, "system:pod-reader", metav1.DeleteOptions{}),
		rbac.ClusterRoleBindings().Delete(ctx, "test:read-pods", metav1.DeleteOptions{}),
		rbac.ClusterRoles().Delete(ctx, "test:pod-reader", metav1.DeleteOptions{}),
	} {
		if del != nil {
			t.Error(del)
		}
	}
	if _, err := rbac.Roles("default").Get(ctx, "system:pod-reader", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after delete: %v", err)
	}
}

// TestRBACIsEnforced: a service account may do only what its bindings grant:
// a Role bound in one namespace works there and nowhere else, a ClusterRole
// bound cluster-wide works everywhere, and every user may discover the API
// and ask who it is, as on upstream with --authorization-mode=RBAC.
func TestRBACIsEnforced(t *testing.T) {
	for name, cp := range controlPlanes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			admin := kubernetes.NewForConfigOrDie(cp.config)
			for _, ns := range []string{"rbac-a", "rbac-b"} {
				if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := admin.CoreV1().ServiceAccounts("rbac-a").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "reader"}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			tr, err := admin.CoreV1().ServiceAccounts("rbac-a").CreateToken(ctx, "reader", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			reader := asToken(cp.config, tr.Status.Token)
			list := func(ns string) error {
				_, err := reader.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
				return err
			}
			if err := list("rbac-a"); !apierrors.IsForbidden(err) {
				t.Fatalf("list pods with no grant: %v, want 403", err)
			}
			if _, err := reader.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{}); err != nil {
				t.Errorf("whoami with no grant: %v", err)
			}
			if _, err := reader.Discovery().ServerVersion(); err != nil {
				t.Errorf("version with no grant: %v", err)
			}

			if _, err := admin.RbacV1().Roles("rbac-a").Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "pod-reader"},
				Rules: []rbacv1.PolicyRule{{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := admin.RbacV1().RoleBindings("rbac-a").Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "reader"},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "pod-reader"},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "reader", Namespace: "rbac-a"}}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the role binding to take effect", func() error { return list("rbac-a") })
			if err := list("rbac-b"); !apierrors.IsForbidden(err) {
				t.Errorf("list pods in another namespace: %v, want 403", err)
			}
			if _, err := reader.CoreV1().Pods("rbac-a").Create(ctx, pod("not-allowed"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
				t.Errorf("create with a read-only role: %v, want 403", err)
			}

			if _, err := admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "rbac-test-pods"},
				Rules: []rbacv1.PolicyRule{{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"pods"}}}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "rbac-test-pods"},
				RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "rbac-test-pods"},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:serviceaccounts:rbac-a"}}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 10*time.Second, "the cluster role binding to take effect", func() error { return list("rbac-b") })

			// kubectl auth can-i as the service account agrees.
			bin := ""
			for _, b := range kubectls(t) {
				bin = b
				break
			}
			as := "--as=system:serviceaccount:rbac-a:reader"
			if out, _ := kubectlErr(bin, cp.kubeconfig, "", "auth", "can-i", "delete", "pods", "-n", "rbac-a", as); strings.TrimSpace(out) != "no" {
				t.Errorf("can-i delete pods: %q, want no", out)
			}
			if out, _ := kubectlErr(bin, cp.kubeconfig, "", "auth", "can-i", "get", "pods", "-n", "rbac-a", as); strings.TrimSpace(out) != "yes" {
				t.Errorf("can-i get pods: %q, want yes", out)
			}
		})
	}
}
