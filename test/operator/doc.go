// Package operator holds the test that docs/envtest.md walks through: an
// operator author's envtest suite (upstream kube-apiserver and etcd, started
// by controller-runtime's envtest) with kubeseed's controllers, scheduler and
// a simulated node added, so that Deployments get running pods, owners'
// dependents are garbage collected and namespaces really go away.
package operator
