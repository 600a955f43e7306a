package defaults

import (
	rbacv1 "k8s.io/api/rbac/v1"
)

// RoleBinding defaults an rbac.authorization.k8s.io/v1 RoleBinding's roleRef
// and subject API groups.
func RoleBinding(b *rbacv1.RoleBinding) {
	roleRef(&b.RoleRef)
	subjects(b.Subjects)
}

// ClusterRoleBinding defaults an rbac.authorization.k8s.io/v1
// ClusterRoleBinding's roleRef and subject API groups.
func ClusterRoleBinding(b *rbacv1.ClusterRoleBinding) {
	roleRef(&b.RoleRef)
	subjects(b.Subjects)
}

func roleRef(r *rbacv1.RoleRef) {
	if r.APIGroup == "" {
		r.APIGroup = rbacv1.GroupName
	}
}

// subjects gives users and groups the RBAC group; service accounts belong to
// the core group, whose name is empty.
func subjects(ss []rbacv1.Subject) {
	for i := range ss {
		if s := &ss[i]; s.APIGroup == "" && (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) {
			s.APIGroup = rbacv1.GroupName
		}
	}
}
