package manager

import (
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kubeseed/kubeseed/controllers/clusterroleaggregation"
	"github.com/kubeseed/kubeseed/controllers/cronjob"
	"github.com/kubeseed/kubeseed/controllers/daemonset"
	"github.com/kubeseed/kubeseed/controllers/deployment"
	"github.com/kubeseed/kubeseed/controllers/disruption"
	"github.com/kubeseed/kubeseed/controllers/endpoints"
	"github.com/kubeseed/kubeseed/controllers/garbagecollector"
	"github.com/kubeseed/kubeseed/controllers/job"
	"github.com/kubeseed/kubeseed/controllers/localpath"
	"github.com/kubeseed/kubeseed/controllers/namespace"
	"github.com/kubeseed/kubeseed/controllers/nodelifecycle"
	"github.com/kubeseed/kubeseed/controllers/persistentvolume"
	"github.com/kubeseed/kubeseed/controllers/replicaset"
	"github.com/kubeseed/kubeseed/controllers/scheduler"
	"github.com/kubeseed/kubeseed/controllers/serviceaccount"
	"github.com/kubeseed/kubeseed/controllers/statefulset"
	"github.com/kubeseed/kubeseed/controllers/ttlafterfinished"
)

// controller is one named controller and how it joins a manager.
type controller struct {
	name  string
	setup func(ctrl.Manager) error
}

// registry lists every controller `kubeseed controllers` runs. Each controller
// package exposes a SetupWithManager(ctrl.Manager) error; add it here.
var registry = []controller{
	{name: "replicaset", setup: replicaset.SetupWithManager},
	{name: "deployment", setup: deployment.SetupWithManager},
	{name: "statefulset", setup: statefulset.SetupWithManager},
	{name: "daemonset", setup: daemonset.SetupWithManager},
	{name: "job", setup: job.SetupWithManager},
	{name: "cronjob", setup: cronjob.SetupWithManager},
	{name: "ttlafterfinished", setup: ttlafterfinished.SetupWithManager},
	{name: "garbagecollector", setup: garbagecollector.SetupWithManager},
	{name: "scheduler", setup: scheduler.SetupWithManager},
	{name: "endpoints", setup: endpoints.SetupWithManager},
	{name: "namespace", setup: namespace.SetupWithManager},
	{name: "serviceaccount", setup: serviceaccount.SetupWithManager},
	{name: "nodelifecycle", setup: nodelifecycle.SetupWithManager},
	{name: "persistentvolume", setup: persistentvolume.SetupWithManager},
	{name: "localpath", setup: localpath.SetupWithManager},
	{name: "clusterrole-aggregation", setup: clusterroleaggregation.SetupWithManager},
	{name: disruption.Name, setup: disruption.SetupWithManager},
}
