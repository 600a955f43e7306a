package tables

import (
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
)

// subjectColumns are the -o wide columns of both binding kinds.
func subjectColumns(kind string) []Column {
	return []Column{
		{Name: "Users", Wide: true, Description: "Users in the " + kind},
		{Name: "Groups", Wide: true, Description: "Groups in the " + kind},
		{Name: "ServiceAccounts", Wide: true, Description: "ServiceAccounts in the " + kind},
	}
}

// subjectCells lists users, groups and namespace/name service accounts.
func subjectCells(subjects []rbacv1.Subject) []any {
	var users, groups, sas []string
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			users = append(users, s.Name)
		case rbacv1.GroupKind:
			groups = append(groups, s.Name)
		case rbacv1.ServiceAccountKind:
			sas = append(sas, s.Namespace+"/"+s.Name)
		}
	}
	return []any{strings.Join(users, ", "), strings.Join(groups, ", "), strings.Join(sas, ", ")}
}

// RoleBindings: NAME ROLE AGE, wide USERS GROUPS SERVICEACCOUNTS.
var RoleBindings = For(append([]Column{
	{Name: "Role", Description: rbacv1.RoleBinding{}.SwaggerDoc()["roleRef"]}, age,
}, subjectColumns("roleBinding")...), func(b *rbacv1.RoleBinding) []any {
	return append([]any{b.RoleRef.Kind + "/" + b.RoleRef.Name, Age(b.CreationTimestamp)}, subjectCells(b.Subjects)...)
})

// ClusterRoleBindings: NAME ROLE AGE, wide USERS GROUPS SERVICEACCOUNTS.
var ClusterRoleBindings = For(append([]Column{
	{Name: "Role", Description: rbacv1.ClusterRoleBinding{}.SwaggerDoc()["roleRef"]}, age,
}, subjectColumns("clusterRoleBinding")...), func(b *rbacv1.ClusterRoleBinding) []any {
	return append([]any{b.RoleRef.Kind + "/" + b.RoleRef.Name, Age(b.CreationTimestamp)}, subjectCells(b.Subjects)...)
})
