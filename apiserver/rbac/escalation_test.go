package rbac

import (
	"context"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
)

// objects is a Source over objects held in memory.
type objects struct {
	roles               []*rbacv1.Role
	roleBindings        []*rbacv1.RoleBinding
	clusterRoles        []*rbacv1.ClusterRole
	clusterRoleBindings []*rbacv1.ClusterRoleBinding
}

func (o objects) GetRole(_ context.Context, namespace, name string) (*rbacv1.Role, error) {
	for _, r := range o.roles {
		if r.Namespace == namespace && r.Name == name {
			return r, nil
		}
	}
	return nil, apierrors.NewNotFound(rbacv1.Resource("role"), name)
}

func (o objects) GetClusterRole(_ context.Context, name string) (*rbacv1.ClusterRole, error) {
	for _, r := range o.clusterRoles {
		if r.Name == name {
			return r, nil
		}
	}
	return nil, apierrors.NewNotFound(rbacv1.Resource("clusterrole"), name)
}

func (o objects) ListRoleBindings(_ context.Context, namespace string) ([]*rbacv1.RoleBinding, error) {
	var out []*rbacv1.RoleBinding
	for _, b := range o.roleBindings {
		if b.Namespace == namespace {
			out = append(out, b)
		}
	}
	return out, nil
}

func (o objects) ListClusterRoleBindings(context.Context) ([]*rbacv1.ClusterRoleBinding, error) {
	return o.clusterRoleBindings, nil
}

func TestConfirmNoEscalation(t *testing.T) {
	pods := func(verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{Verbs: verbs, APIGroups: []string{""}, Resources: []string{"pods"}}
	}
	src := objects{
		roles: []*rbacv1.Role{{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "pods"}, Rules: []rbacv1.PolicyRule{pods("get", "list")}}},
		roleBindings: []*rbacv1.RoleBinding{
			{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "pods"}, RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "pods"},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "robot"}}},
			{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "ghost"}, RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "ghost"},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, Name: "devs"}}},
		},
		clusterRoles: []*rbacv1.ClusterRole{{ObjectMeta: metav1.ObjectMeta{Name: "urls"},
			Rules: []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/logs/*"}}}}},
		clusterRoleBindings: []*rbacv1.ClusterRoleBinding{{ObjectMeta: metav1.ObjectMeta{Name: "urls"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "urls"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.GroupKind, Name: "devs"}}}},
	}
	robot := &user.DefaultInfo{Name: "system:serviceaccount:a:robot"}
	dev := &user.DefaultInfo{Name: "dev", Groups: []string{"devs"}}
	r := &Resolver{Source: src}
	for _, tc := range []struct {
		name      string
		u         user.Info
		namespace string
		rules     []rbacv1.PolicyRule
		want      string // "" for allowed
	}{
		{"held in the namespace", robot, "a", []rbacv1.PolicyRule{pods("list")}, ""},
		{"not held elsewhere", robot, "b", []rbacv1.PolicyRule{pods("list")},
			"user \"system:serviceaccount:a:robot\" (groups=[]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"list\"]}"},
		{"missing verbs merge, resources sort", robot, "a", []rbacv1.PolicyRule{pods("get", "delete", "patch"),
			{Verbs: []string{"get"}, APIGroups: []string{"apps"}, Resources: []string{"deployments"}, ResourceNames: []string{"web"}}},
			"{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\" \"patch\"]}\n{APIGroups:[\"apps\"], Resources:[\"deployments\"], ResourceNames:[\"web\"], Verbs:[\"get\"]}"},
		{"URLs under a wildcard", dev, "a", []rbacv1.PolicyRule{{Verbs: []string{"get"}, NonResourceURLs: []string{"/logs/kube"}}}, ""},
		{"resolution errors are told", dev, "a", []rbacv1.PolicyRule{pods("get")},
			"{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"get\"]}; resolution errors: [role.rbac.authorization.k8s.io \"ghost\" not found]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := r.ConfirmNoEscalation(context.Background(), tc.u, tc.namespace, tc.rules)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.HasSuffix(err.Error(), tc.want)):
				t.Errorf("got %v\nwant ...%s", err, tc.want)
			}
		})
	}
}

func TestGrantString(t *testing.T) {
	g := Grant{Kind: "RoleBinding", Name: "readers", Namespace: "a", RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "pods"},
		Subject: rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: "robot"}}
	if got, want := g.String(), `RoleBinding "readers/a" of Role "pods" to ServiceAccount "robot/a"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
