package manager

import (
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kubeseed/kubeseed/controllers/endpoints"
	"github.com/kubeseed/kubeseed/controllers/localpath"
	"github.com/kubeseed/kubeseed/controllers/namespace"
	"github.com/kubeseed/kubeseed/controllers/nodelifecycle"
	"github.com/kubeseed/kubeseed/controllers/persistentvolume"
	"github.com/kubeseed/kubeseed/controllers/scheduler"
	"github.com/kubeseed/kubeseed/controllers/serviceaccount"
)

// controller is one named controller and how it joins a manager.
type controller struct {
	name  string
	setup func(ctrl.Manager) error
}

// registry lists every controller `kubeseed controllers` runs. Each controller
// package exposes a SetupWithManager(ctrl.Manager) error; add it here.
var registry = []controller{
	{"scheduler", scheduler.SetupWithManager},
	{"endpoints", endpoints.SetupWithManager},
	{"namespace", namespace.SetupWithManager},
	{"serviceaccount", serviceaccount.SetupWithManager},
	{"nodelifecycle", nodelifecycle.SetupWithManager},
	{"persistentvolume", persistentvolume.SetupWithManager},
	{"localpath", localpath.SetupWithManager},
}
