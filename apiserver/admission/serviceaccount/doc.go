// Package serviceaccount is kube-apiserver's ServiceAccount admission plugin,
// a k8s.io/apiserver admission.Interface that acts on pod creation. A new pod
// runs as its namespace's "default" service account unless it names one, and
// is refused (403 Forbidden) when that account does not exist: for "default",
// which the service account controller creates a moment after the namespace,
// the plugin asks again for a second or so first. The pod gets the account's
// imagePullSecrets when it names none and, unless the pod or the account turns
// automounting off, the projected kube-api-access-xxxxx volume (a bound token,
// the cluster CA, the namespace) mounted read-only in every container at
// /var/run/secrets/kubernetes.io/serviceaccount. An account annotated
// kubernetes.io/enforce-mountable-secrets=true limits its pods to the secrets
// it lists. Mirror pods may reference no service account, secret or token
// projection, and the plugin leaves their spec alone.
//
// Upstream's error messages and codes are kept, so kubectl prints what it
// prints against kube-apiserver. envtest runs kube-apiserver with the plugin
// disabled; kubeseed's API server turns it off the same way
// (apiserver.Config.DisableAdmissionPlugins).
package serviceaccount
