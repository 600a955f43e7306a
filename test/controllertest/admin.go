package controllertest

import "sigs.k8s.io/controller-runtime/pkg/envtest"

// envtestAdmin is a cluster admin for kubectl.
func envtestAdmin() envtest.User {
	return envtest.User{Name: "admin", Groups: []string{"system:masters"}}
}
