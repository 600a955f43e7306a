package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdinformers "k8s.io/apiextensions-apiserver/pkg/client/informers/externalversions/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/tools/cache"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	apiregistrationlisters "k8s.io/kube-aggregator/pkg/client/listers/apiregistration/v1"
	"k8s.io/kube-aggregator/pkg/controllers/autoregister"
)

// priority orders a group in discovery (and so in `kubectl api-resources`)
// and a version within its group.
type priority struct{ group, version int32 }

// builtinPriorities are kube-apiserver's values for the groups kubeseed
// serves, so discovery lists them in the same order.
var builtinPriorities = map[schema.GroupVersion]priority{
	{Group: "", Version: "v1"}:                          {18000, 1},
	{Group: "apps", Version: "v1"}:                      {17800, 15},
	{Group: "events.k8s.io", Version: "v1"}:             {17750, 15},
	{Group: "authentication.k8s.io", Version: "v1"}:     {17700, 15},
	{Group: "authorization.k8s.io", Version: "v1"}:      {17600, 15},
	{Group: "autoscaling", Version: "v1"}:               {17500, 15},
	{Group: "autoscaling", Version: "v2"}:               {17500, 30},
	{Group: "batch", Version: "v1"}:                     {17400, 15},
	{Group: "networking.k8s.io", Version: "v1"}:         {17200, 15},
	{Group: "policy", Version: "v1"}:                    {17100, 15},
	{Group: "rbac.authorization.k8s.io", Version: "v1"}: {17000, 15},
	{Group: "storage.k8s.io", Version: "v1"}:            {16800, 15},
	{Group: "apiextensions.k8s.io", Version: "v1"}:      {16700, 15},
	{Group: "scheduling.k8s.io", Version: "v1"}:         {16600, 15},
	{Group: "coordination.k8s.io", Version: "v1"}:       {16500, 15},
	{Group: "discovery.k8s.io", Version: "v1"}:          {16200, 15},
	// metrics-server's APIService, whose API kubeseed serves itself.
	{Group: "metrics.k8s.io", Version: "v1beta1"}: {100, 100},
}

// crdPriority is what upstream gives CRD groups: after every built-in group,
// versions within a group sorted the Kubernetes way (v2 > v1 > v1beta1).
var crdPriority = priority{1000, 100}

// apiServiceName is <version>.<group>: "v1." for the core group.
func apiServiceName(gv schema.GroupVersion) string { return gv.Version + "." + gv.Group }

// localAPIService is an APIService served by this process (no Service), which
// the aggregator hands to its delegates.
func localAPIService(gv schema.GroupVersion, p priority) *apiregistrationv1.APIService {
	return &apiregistrationv1.APIService{
		ObjectMeta: metav1.ObjectMeta{Name: apiServiceName(gv)},
		Spec: apiregistrationv1.APIServiceSpec{
			Group:                gv.Group,
			Version:              gv.Version,
			GroupPriorityMinimum: p.group,
			VersionPriority:      p.version,
		},
	}
}

// builtinAPIServices are the APIServices for the group versions the delegate
// servers list (/api/v1 and /apis/<group>/<version>), as kube-apiserver
// registers its own.
func builtinAPIServices(listedPaths []string) ([]*apiregistrationv1.APIService, error) {
	var out []*apiregistrationv1.APIService
	for _, path := range listedPaths {
		var gv schema.GroupVersion
		switch parts := strings.Split(path, "/"); {
		case path == "/api/v1":
			gv = schema.GroupVersion{Version: "v1"}
		case len(parts) == 4 && parts[1] == "apis":
			gv = schema.GroupVersion{Group: parts[2], Version: parts[3]}
		default:
			continue
		}
		p, ok := builtinPriorities[gv]
		if !ok {
			// A served group without a priority would sort arbitrarily in
			// discovery: give it one above, don't guess.
			return nil, fmt.Errorf("apiserver: no discovery priority for %s", gv)
		}
		out = append(out, localAPIService(gv, p))
	}
	return out, nil
}

// crdRegistration keeps one local APIService per group version that a
// CustomResourceDefinition serves, and none for versions no CRD serves any
// more, so CRD groups appear in (and leave) the aggregated discovery.
type crdRegistration struct {
	crds     crdinformers.CustomResourceDefinitionInformer
	register autoregister.AutoAPIServiceRegistration

	mu     sync.Mutex
	synced bool
}

func newCRDRegistration(crds crdinformers.CustomResourceDefinitionInformer, register autoregister.AutoAPIServiceRegistration) (*crdRegistration, error) {
	r := &crdRegistration{crds: crds, register: register}
	_, err := crds.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { r.changed(obj) },
		UpdateFunc: func(old, obj any) {
			r.changed(old)
			r.changed(obj)
		},
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			r.changed(obj)
		},
	})
	return r, err
}

// run registers the CRDs present at start and returns once that is done, so
// the autoregister controller's first sync never removes the APIService of a
// CRD that still exists.
func (r *crdRegistration) run(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), r.crds.Informer().HasSynced) {
		return ctx.Err()
	}
	r.mu.Lock()
	r.synced = true
	r.mu.Unlock()
	crds, err := r.crds.Lister().List(labels.Everything())
	if err != nil {
		return err
	}
	for _, crd := range crds {
		r.changed(crd)
	}
	return nil
}

func (r *crdRegistration) changed(obj any) {
	crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
	if !ok {
		return
	}
	r.mu.Lock()
	synced := r.synced
	r.mu.Unlock()
	if !synced {
		return
	}
	for _, v := range crd.Spec.Versions {
		r.sync(schema.GroupVersion{Group: crd.Spec.Group, Version: v.Name})
	}
}

// sync registers gv while some CRD serves it, and unregisters it otherwise.
func (r *crdRegistration) sync(gv schema.GroupVersion) {
	name := apiServiceName(gv)
	crds, err := r.crds.Lister().List(labels.Everything())
	if err != nil {
		return
	}
	for _, crd := range crds {
		if crd.Spec.Group != gv.Group {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if v.Name == gv.Version && v.Served {
				r.register.AddAPIServiceToSync(localAPIService(gv, crdPriority))
				return
			}
		}
	}
	r.register.RemoveAPIServiceToSync(name)
}

// apiServicesAvailable is a readiness check: ready once every built-in
// APIService exists and is Available, so the first `kubectl` after Ready sees
// the whole discovery document.
func apiServicesAvailable(want []*apiregistrationv1.APIService, lister apiregistrationlisters.APIServiceLister) healthz.HealthChecker {
	names := sets.New[string]()
	for _, s := range want {
		names.Insert(s.Name)
	}
	return healthz.NamedCheck("autoregister-completion", func(*http.Request) error {
		var missing []string
		for _, name := range sets.List(names) {
			s, err := lister.Get(name)
			if err != nil || !available(s) {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("APIServices not yet available: %v", missing)
		}
		return nil
	})
}

func available(s *apiregistrationv1.APIService) bool {
	for _, c := range s.Status.Conditions {
		if c.Type == apiregistrationv1.Available {
			return c.Status == apiregistrationv1.ConditionTrue
		}
	}
	return false
}
