// Package clusterroleaggregation fills the rules of ClusterRoles that have an
// aggregationRule with the rules of every ClusterRole its selectors match, as
// upstream's clusterrole-aggregation controller does: the admin, edit and view
// roles grow when an operator installs a ClusterRole labelled
// rbac.authorization.k8s.io/aggregate-to-view: "true" for its CRDs.
package clusterroleaggregation
