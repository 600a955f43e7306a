// Package apiserver serves the standard Kubernetes API groups from k8s.io/api
// types on k8s.io/apiserver, stored in etcd (embedded or external).
//
// New(Config) checks the configuration and creates the PKI and
// DataDir/admin.kubeconfig; Run starts etcd (unless external servers are
// given), serves HTTPS until its context ends and then stops both; Ready is
// closed once /readyz passes and the system namespaces, the system priority
// classes and the kubernetes service exist.
//
// The server is kube-apiserver's chain of three (chain.go): kube-aggregator
// (APIService objects; discovery and OpenAPI for the whole chain) in front of
// the core API in front of apiextensions-apiserver (CustomResourceDefinitions
// and their objects, stored under /registry/<group>/<resource>). The
// built-in group versions are registered as local APIServices at start, and a
// CRD's group versions while a CRD serves them (apiservices.go). The pieces
// of the core API live in sub-packages: scheme (types, defaulting
// hooks, field selectors), defaults and validation (upstream's values and
// checks), registry (etcd-backed storage, subresources, service IP and node
// port allocation, node proxying), tables (kubectl get columns), openapi
// (generated definitions), pki and etcd.
//
// Admission is one k8s.io/apiserver chain all three servers run (chain.go):
// upstream's NamespaceLifecycle, then kube-apiserver's ServiceAccount plugin
// (package admission/serviceaccount: a pod's default service account, the
// refusal of one whose account is missing, the kube-api-access volume,
// enforce-mountable-secrets, mirror pods), which Config.DisableAdmissionPlugins
// turns off as envtest turns it off in kube-apiserver, and its Priority plugin
// (package admission/priority: a pod's priority and preemption policy from its
// PriorityClass or the global default, one global default at a time), on as
// in envtest unless Config.DisableAdmissionPlugins names it. The rest of
// kube-apiserver's default plugins' work (DefaultStorageClass,
// DefaultIngressClass, TaintNodesByCondition, default tolerations) is the
// registry's.
//
// Users authenticate with client certificates signed by the cluster CA (the
// admin kubeconfig's is in system:masters), pods with service account tokens
// (package serviceaccount: TokenRequest, the tokens of the kube-api-access
// volume). Authorization is kube-apiserver's --authorization-mode=RBAC:
// system:masters may do anything, everyone else what the
// rbac.authorization.k8s.io/v1 bindings grant (package rbac, which also
// holds the bootstrap policy: cluster-admin, system:discovery,
// system:basic-user, system:public-info-viewer, the service accounts' issuer
// and trust bundle discovery roles and their bindings, and the admin, edit
// and view roles that the clusterrole-aggregation controller fills). Access
// reviews (self, subject, local, and self rules reviews: kubectl auth can-i,
// --list, --as) ask that authorizer. Writes of roles and bindings are refused
// when they would grant more than the writer holds, unless it has escalate
// or bind, as upstream's rbac storage does (registry/rbac.go).
package apiserver
