// Package controllers holds kubeseed's controllers, one package per controller
// (ReplicaSet, Deployment, StatefulSet, DaemonSet, Job, CronJob, garbage
// collection, namespaces, the scheduler, endpoints, node lifecycle,
// PodDisruptionBudgets), each a controller-runtime reconciler that works
// through the Kubernetes API only, so it runs against kubeseed's API server
// and upstream kube-apiserver alike.
package controllers
