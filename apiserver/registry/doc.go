// Package registry turns a declarative Resource (its Go type, scope, hooks,
// validation and table columns) into the REST storage k8s.io/apiserver
// installs: a genericregistry.Store on etcd with create/update/delete
// strategies, plus status and scale subresources where upstream has them.
// Kind-specific behaviour (pod binding, service IP allocation, namespace
// termination) lives in the files named after the kind.
package registry
