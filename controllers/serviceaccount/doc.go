// Package serviceaccount gives every active namespace what upstream's
// serviceaccount-controller and root-ca-cert-publisher give it: the
// ServiceAccount "default", which pods use when they name none (and without
// which the ServiceAccount admission plugin rejects them), and, when the
// cluster's CA is known, the ConfigMap "kube-root-ca.crt" holding it, which
// projected service account token volumes mount.
package serviceaccount
