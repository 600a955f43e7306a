package rbac

import (
	"context"
	"fmt"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/kubernetes"
)

// The bootstrap policy's label and annotation, upstream's: the annotation
// says the server may reconcile the object.
var (
	bootstrapLabels      = map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}
	bootstrapAnnotations = map[string]string{rbacv1.AutoUpdateAnnotationKey: "true"}
)

func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: bootstrapLabels, Annotations: bootstrapAnnotations}
}

// ClusterRoles are the bootstrap cluster roles kubeseed has, with upstream's
// names and rules (each rule's lists sorted, as upstream stores them):
// cluster-admin for system:masters, what every user may do (discover the
// API, read the server's health and version, ask what it may do and who it
// is) and what every service account may read.
func ClusterRoles() []rbacv1.ClusterRole {
	roles := clusterRoles()
	for i := range roles {
		for j := range roles[i].Rules {
			r := roles[i].Rules[j].DeepCopy()
			for _, list := range [][]string{r.Verbs, r.APIGroups, r.Resources, r.ResourceNames, r.NonResourceURLs} {
				slices.Sort(list)
			}
			roles[i].Rules[j] = *r
		}
	}
	return roles
}

func clusterRoles() []rbacv1.ClusterRole {
	return []rbacv1.ClusterRole{
		{ObjectMeta: meta("cluster-admin"), Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
			{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
		}},
		{ObjectMeta: meta("system:discovery"), Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get"}, NonResourceURLs: []string{"/livez", "/readyz", "/healthz", "/version", "/version/",
				"/openapi", "/openapi/*", "/api", "/api/*", "/apis", "/apis/*"}},
		}},
		{ObjectMeta: meta("system:basic-user"), Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"create"}, APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"selfsubjectaccessreviews", "selfsubjectrulesreviews"}},
			{Verbs: []string{"create"}, APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"selfsubjectreviews"}},
		}},
		{ObjectMeta: meta("system:public-info-viewer"), Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get"}, NonResourceURLs: []string{"/livez", "/readyz", "/healthz", "/version", "/version/"}},
		}},
		// Upstream's service account policy, though kubeseed serves neither
		// the issuer discovery documents nor certificates.k8s.io yet: the
		// grants are the same as on upstream, whatever the server serves.
		{ObjectMeta: meta("system:service-account-issuer-discovery"), Rules: []rbacv1.PolicyRule{
			{Verbs: []string{"get"}, NonResourceURLs: []string{"/.well-known/openid-configuration", "/.well-known/openid-configuration/",
				"/openid/v1/jwks", "/openid/v1/jwks/"}},
		}},
		{ObjectMeta: meta("system:cluster-trust-bundle-discovery"), Rules: []rbacv1.PolicyRule{
			rule(read, []string{"certificates.k8s.io"}, "clustertrustbundles"),
		}},
		// The user-facing roles are aggregated (the clusterrole-aggregation
		// controller fills them), so operators extend them by label.
		aggregating("admin", nil, aggregateToAdmin),
		aggregating("edit", map[string]string{aggregateToAdmin: "true"}, aggregateToEdit),
		aggregating("view", map[string]string{aggregateToEdit: "true"}, aggregateToView),
		{ObjectMeta: labelled("system:aggregate-to-admin", aggregateToAdmin), Rules: []rbacv1.PolicyRule{
			rule([]string{"create"}, []string{"authorization.k8s.io"}, "localsubjectaccessreviews"),
			rule(readWrite, []string{"rbac.authorization.k8s.io"}, "roles", "rolebindings"),
		}},
		{ObjectMeta: labelled("system:aggregate-to-edit", aggregateToEdit), Rules: editRules()},
		{ObjectMeta: labelled("system:aggregate-to-view", aggregateToView), Rules: viewRules()},
		// metrics-server's role, for the resource metrics API kubeseed serves
		// itself: whoever may view a namespace may kubectl top it.
		{ObjectMeta: metricsReader(), Rules: []rbacv1.PolicyRule{rule(read, []string{"metrics.k8s.io"}, "pods", "nodes")}},
	}
}

func metricsReader() metav1.ObjectMeta {
	m := labelled("system:aggregated-metrics-reader", aggregateToView)
	m.Labels[aggregateToEdit], m.Labels[aggregateToAdmin] = "true", "true"
	return m
}

// Labels that aggregate a ClusterRole into admin, edit or view.
const (
	aggregateToAdmin = "rbac.authorization.k8s.io/aggregate-to-admin"
	aggregateToEdit  = "rbac.authorization.k8s.io/aggregate-to-edit"
	aggregateToView  = "rbac.authorization.k8s.io/aggregate-to-view"
)

var (
	read      = []string{"get", "list", "watch"}
	write     = []string{"create", "update", "patch", "delete", "deletecollection"}
	readWrite = append(append([]string{}, read...), write...)
)

func rule(verbs, groups []string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: groups, Resources: resources}
}

func labelled(name, label string) metav1.ObjectMeta {
	m := meta(name)
	m.Labels = map[string]string{label: "true"}
	for k, v := range bootstrapLabels {
		m.Labels[k] = v
	}
	return m
}

func aggregating(name string, extra map[string]string, selects string) rbacv1.ClusterRole {
	m := meta(name)
	m.Labels = map[string]string{}
	for k, v := range bootstrapLabels {
		m.Labels[k] = v
	}
	for k, v := range extra {
		m.Labels[k] = v
	}
	return rbacv1.ClusterRole{ObjectMeta: m, AggregationRule: &rbacv1.AggregationRule{
		ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{selects: "true"}}},
	}}
}

// viewRules read what a namespace holds, short of secrets and anything that
// escalates, as upstream's view role.
func viewRules() []rbacv1.PolicyRule {
	core := []string{""}
	return []rbacv1.PolicyRule{
		rule(read, core, "pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
			"services", "services/status", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "configmaps"),
		rule(read, core, "limitranges", "resourcequotas", "bindings", "pods/status", "resourcequotas/status",
			"namespaces/status", "replicationcontrollers/status", "pods/log"),
		rule(read, core, "namespaces"),
		rule(read, []string{"", "events.k8s.io"}, "events"),
		rule(read, []string{"discovery.k8s.io"}, "endpointslices"),
		rule(read, []string{"apps"}, "controllerrevisions", "statefulsets", "statefulsets/status", "statefulsets/scale",
			"daemonsets", "daemonsets/status", "deployments", "deployments/status", "deployments/scale",
			"replicasets", "replicasets/status", "replicasets/scale"),
		rule(read, []string{"autoscaling"}, "horizontalpodautoscalers", "horizontalpodautoscalers/status"),
		rule(read, []string{"batch"}, "jobs", "cronjobs", "cronjobs/status", "jobs/status"),
		rule(read, []string{"extensions"}, "daemonsets", "daemonsets/status", "deployments", "deployments/scale", "deployments/status",
			"ingresses", "ingresses/status", "replicasets", "replicasets/scale", "replicasets/status", "replicationcontrollers/scale",
			"networkpolicies"),
		rule(read, []string{"policy"}, "poddisruptionbudgets", "poddisruptionbudgets/status"),
		rule(read, []string{"networking.k8s.io"}, "networkpolicies", "ingresses", "ingresses/status"),
	}
}

// editRules change what a namespace holds, as upstream's edit role.
func editRules() []rbacv1.PolicyRule {
	core := []string{""}
	return []rbacv1.PolicyRule{
		rule(read, core, "pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy"),
		rule([]string{"impersonate"}, core, "serviceaccounts"),
		rule(write, core, "pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"),
		rule([]string{"create"}, core, "pods/eviction"),
		rule(write, core, "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
			"services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets"),
		rule([]string{"create"}, core, "serviceaccounts/token"),
		rule(write, []string{"", "events.k8s.io"}, "events"),
		rule(write, []string{"apps"}, "statefulsets", "statefulsets/scale", "daemonsets", "deployments", "deployments/scale",
			"deployments/rollback", "replicasets", "replicasets/scale"),
		rule(write, []string{"autoscaling"}, "horizontalpodautoscalers"),
		rule(write, []string{"batch"}, "jobs", "cronjobs"),
		rule(write, []string{"extensions"}, "daemonsets", "deployments", "deployments/scale", "deployments/rollback", "ingresses",
			"replicasets", "replicasets/scale", "replicationcontrollers/scale", "networkpolicies"),
		rule(write, []string{"policy"}, "poddisruptionbudgets"),
		rule(write, []string{"networking.k8s.io"}, "networkpolicies", "ingresses"),
		rule(readWrite, []string{"coordination.k8s.io"}, "leases"),
	}
}

// ClusterRoleBindings bind the bootstrap roles, as upstream does.
func ClusterRoleBindings() []rbacv1.ClusterRoleBinding {
	bind := func(role string, groups ...string) rbacv1.ClusterRoleBinding {
		b := rbacv1.ClusterRoleBinding{ObjectMeta: meta(role), RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}}
		for _, g := range groups {
			b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: g})
		}
		return b
	}
	return []rbacv1.ClusterRoleBinding{
		bind("cluster-admin", user.SystemPrivilegedGroup),
		bind("system:discovery", user.AllAuthenticated),
		bind("system:basic-user", user.AllAuthenticated),
		bind("system:public-info-viewer", user.AllAuthenticated, user.AllUnauthenticated),
		bind("system:service-account-issuer-discovery", serviceaccount.AllServiceAccountsGroup),
		bind("system:cluster-trust-bundle-discovery", serviceaccount.AllServiceAccountsGroup),
	}
}

// EnsureBootstrapPolicy creates the bootstrap roles and bindings that are
// missing. Existing ones are left as they are: a cluster's admin may have
// changed them on purpose.
func EnsureBootstrapPolicy(ctx context.Context, client kubernetes.Interface) error {
	for _, r := range ClusterRoles() {
		if _, err := client.RbacV1().ClusterRoles().Create(ctx, &r, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("cluster role %s: %w", r.Name, err)
		}
	}
	for _, b := range ClusterRoleBindings() {
		if _, err := client.RbacV1().ClusterRoleBindings().Create(ctx, &b, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("cluster role binding %s: %w", b.Name, err)
		}
	}
	return nil
}
