package apiserver_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// aggregatedRoles are the parts the view, edit and admin roles are
// aggregated from. Tests bind them directly: no controller aggregates them on
// upstream's envtest.
var aggregatedRoles = []string{"system:aggregate-to-view", "system:aggregate-to-edit", "system:aggregate-to-admin"}

// bindAggregatedRoles binds each of aggregatedRoles to a user of its own
// (bindings named prefix-...), waits until each binding takes effect, and
// returns the users by role and an access check for them.
func bindAggregatedRoles(t *testing.T, ctx context.Context, c kubernetes.Interface, ns, prefix string) (map[string]string, func(user string, attrs authorizationv1.ResourceAttributes) (bool, error)) {
	t.Helper()
	sar := func(user string, attrs authorizationv1.ResourceAttributes) (bool, error) {
		r, err := c.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{User: user, ResourceAttributes: &attrs}}, metav1.CreateOptions{})
		if err != nil {
			return false, err
		}
		return r.Status.Allowed, nil
	}
	// What each role grants, to know its binding took effect.
	probe := map[string]authorizationv1.ResourceAttributes{
		"system:aggregate-to-view":  {Namespace: ns, Verb: "list", Resource: "pods"},
		"system:aggregate-to-edit":  {Namespace: ns, Verb: "create", Resource: "pods"},
		"system:aggregate-to-admin": {Namespace: ns, Verb: "create", Group: rbacv1.GroupName, Resource: "rolebindings"},
	}
	users := map[string]string{}
	for _, role := range aggregatedRoles {
		user := prefix + "-" + role
		users[role] = user
		if _, err := c.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: prefix + "-" + strings.TrimPrefix(role, "system:")},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, role := range aggregatedRoles {
		waitFor(t, 10*time.Second, "the binding of "+role, func() error {
			if ok, err := sar(users[role], probe[role]); err != nil || !ok {
				return fmt.Errorf("%s may not %+v yet (%v)", users[role], probe[role], err)
			}
			return nil
		})
	}
	return users, sar
}
