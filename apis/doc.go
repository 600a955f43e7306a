// Package apis holds kubeseed's own API types, one package per group and
// version (apis/<group>/<version>), such as config.kubeseed.io/v1alpha1 for
// `kubeseed up --config`.
package apis
