package apiserver

import (
	"fmt"
	"io"
	"maps"
	"slices"

	"go.opentelemetry.io/otel/trace/noop"
	apiextensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	apiextensionsoptions "k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	apiextensionsopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	admissioninitializer "k8s.io/apiserver/pkg/admission/initializer"
	admissionmetrics "k8s.io/apiserver/pkg/admission/metrics"
	"k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	serveroptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/webhook"
	clientinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	basecompatibility "k8s.io/component-base/compatibility"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	apiregistrationv1beta1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1beta1"
	aggregatorapiserver "k8s.io/kube-aggregator/pkg/apiserver"
	aggregatorscheme "k8s.io/kube-aggregator/pkg/apiserver/scheme"
	apiregistrationclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset/typed/apiregistration/v1"
	"k8s.io/kube-aggregator/pkg/controllers/autoregister"
	aggregatoropenapi "k8s.io/kube-aggregator/pkg/generated/openapi"
	"k8s.io/kube-openapi/pkg/common"

	priorityadmission "github.com/kubeseed/kubeseed/apiserver/admission/priority"
	serviceaccountadmission "github.com/kubeseed/kubeseed/apiserver/admission/serviceaccount"
	"github.com/kubeseed/kubeseed/apiserver/openapi"
)

// The server is the chain kube-apiserver builds: the aggregator (APIService
// objects, discovery and OpenAPI for everything below it) in front of the
// core API (k8s.io/api's groups) in front of apiextensions-apiserver
// (CustomResourceDefinitions and their objects). A request falls through
// the chain until a server has a route for it; authentication, authorization
// and the rest of the filter chain run once, in the aggregator. Admission
// is one chain that each server runs on the objects it stores.

// admissionPlugins are the admission plugins of the chain, in
// kube-apiserver's order: NamespaceLifecycle first, so an object in a
// missing or terminating namespace gets 404 or 403 before any other plugin
// looks at it (custom resources obey namespace lifecycle through it; the
// core registry checks built-in ones again with a consistent read), then
// ServiceAccount and Priority. kubeseed does the rest of kube-apiserver's
// default plugins' work in its registry (DefaultStorageClass,
// TaintNodesByCondition, DefaultTolerationSeconds, ...), always on.
var admissionPlugins = []string{lifecycle.PluginName, serviceaccountadmission.PluginName, priorityadmission.PluginName}

// disableableAdmissionPlugins may be named in Config.DisableAdmissionPlugins.
// The registry checks namespace lifecycle for built-in resources itself, so
// turning NamespaceLifecycle off would change only custom resources: it is
// not offered.
var disableableAdmissionPlugins = []string{serviceaccountadmission.PluginName, priorityadmission.PluginName}

// newAdmission builds the admission chain every server of the chain runs,
// as kube-apiserver shares one: the enabled plugins, initialized with the
// loopback client and the shared informers, each timed in the
// apiserver_admission_controller_* metrics and the whole in the step ones.
func newAdmission(disabled []string, informers clientinformers.SharedInformerFactory, client kubernetes.Interface, authz authorizer.Authorizer, version basecompatibility.EffectiveVersion) (admission.Interface, error) {
	plugins := admission.NewPlugins()
	lifecycle.Register(plugins)
	serviceaccountadmission.Register(plugins)
	priorityadmission.Register(plugins)
	var enabled []string
	for _, name := range admissionPlugins {
		if !slices.Contains(disabled, name) {
			enabled = append(enabled, name)
		}
	}
	init := admissioninitializer.New(client, nil, informers, authz, nil, version, nil, nil)
	chain, err := plugins.NewFromPlugins(enabled, noAdmissionConfig{}, init, admission.DecoratorFunc(admissionmetrics.WithControllerMetrics))
	if err != nil {
		return nil, fmt.Errorf("admission: %w", err)
	}
	return admissionmetrics.WithStepMetrics(chain), nil
}

// noAdmissionConfig gives every plugin its default configuration
// (kube-apiserver's without --admission-control-config-file).
type noAdmissionConfig struct{}

func (noAdmissionConfig) ConfigFor(string) (io.Reader, error) { return nil, nil }

// openAPIDefinitions are the definitions of every type the chain serves.
func openAPIDefinitions(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	defs := openapi.GetOpenAPIDefinitions(ref)
	maps.Copy(defs, apiextensionsopenapi.GetOpenAPIDefinitions(ref))
	maps.Copy(defs, aggregatoropenapi.GetOpenAPIDefinitions(ref))
	return defs
}

// setOpenAPI gives c OpenAPI v2 and v3 configs over every served type.
func setOpenAPI(c *genericapiserver.Config, external *runtime.Scheme) {
	namer := openapinamer.NewDefinitionNamer(external, apiextensionsapiserver.Scheme, aggregatorscheme.Scheme)
	c.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openAPIDefinitions, namer)
	c.OpenAPIConfig.Info.Title = "Kubernetes"
	c.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openAPIDefinitions, namer)
	c.OpenAPIV3Config.Info.Title = "Kubernetes"
}

// copyOpenAPI gives c copies of the OpenAPI configs it shares with the
// config it was copied from: each server of the chain fills in its own
// (Info, security), but the v3 config's definitions of every type, computed
// when it was made and only read after, stay shared (one set is 4.5 MiB of
// heap kept for the life of the process, per server).
func copyOpenAPI(c *genericapiserver.Config) {
	v2, v2Info := *c.OpenAPIConfig, *c.OpenAPIConfig.Info
	v2.Info = &v2Info
	c.OpenAPIConfig = &v2
	v3, v3Info := *c.OpenAPIV3Config, *c.OpenAPIV3Config.Info
	v3.Info = &v3Info
	c.OpenAPIV3Config = &v3
}

// delegateConfig copies the shared configuration for another server of the
// chain: its own post-start hooks (names must be unique across the chain)
// and health checks, and no storage until the caller sets it.
func delegateConfig(base genericapiserver.Config) genericapiserver.Config {
	c := base
	c.PostStartHooks = map[string]genericapiserver.PostStartHookConfigEntry{}
	c.HealthzChecks = slices.Clone(base.HealthzChecks)
	c.LivezChecks = slices.Clone(base.LivezChecks)
	c.ReadyzChecks = slices.Clone(base.ReadyzChecks)
	c.RESTOptionsGetter = nil
	copyOpenAPI(&c)
	return c
}

// extensionsConfig configures apiextensions-apiserver. CRDs are stored as
// kube-apiserver stores them (/registry/apiextensions.k8s.io/...), custom
// resources under /registry/<group>/<resource>.
func extensionsConfig(base genericapiserver.Config, etcd serveroptions.EtcdOptions, informers clientinformers.SharedInformerFactory, resolver webhook.ServiceResolver) (*apiextensionsapiserver.Config, error) {
	c := delegateConfig(base)
	etcd.StorageConfig.Codec = apiextensionsapiserver.Codecs.LegacyCodec(apiextensionsV1beta1, apiextensionsV1)
	etcd.StorageConfig.EncodeVersioner = runtime.NewMultiGroupVersioner(apiextensionsV1beta1, schema.GroupKind{Group: apiextensionsV1beta1.Group})
	etcd.SkipHealthEndpoints = true // the core server checks etcd
	if err := etcd.ApplyTo(&c); err != nil {
		return nil, fmt.Errorf("apiextensions storage: %w", err)
	}
	c.MergedResourceConfig = apiextensionsapiserver.DefaultAPIResourceConfigSource()
	return &apiextensionsapiserver.Config{
		GenericConfig: &genericapiserver.RecommendedConfig{Config: c, SharedInformerFactory: informers},
		ExtraConfig: apiextensionsapiserver.ExtraConfig{
			CRDRESTOptionsGetter: apiextensionsoptions.NewCRDRESTOptionsGetter(etcd, c.ResourceTransformers, c.StorageObjectCountTracker),
			MasterCount:          1,
			ServiceResolver:      resolver,
			AuthResolverWrapper:  webhook.NewDefaultAuthenticationInfoResolverWrapper(nil, nil, c.LoopbackClientConfig, noop.NewTracerProvider()),
		},
	}, nil
}

var (
	apiextensionsV1      = schema.GroupVersion{Group: "apiextensions.k8s.io", Version: "v1"}
	apiextensionsV1beta1 = schema.GroupVersion{Group: "apiextensions.k8s.io", Version: "v1beta1"}
)

// aggregatorConfig configures kube-aggregator; APIServices are stored as
// kube-apiserver stores them, and requests proxied to aggregated API
// servers carry the front proxy's client certificate (proxyCert, proxyKey)
// with the user in identity headers, as with kube-apiserver's
// --proxy-client-cert-file.
func aggregatorConfig(base genericapiserver.Config, etcd serveroptions.EtcdOptions, informers clientinformers.SharedInformerFactory, resolver aggregatorapiserver.ServiceResolver, proxyCert, proxyKey string) (*aggregatorapiserver.Config, error) {
	c := delegateConfig(base)
	// The aggregator serves the OpenAPI of the whole chain itself.
	c.SkipOpenAPIInstallation = true
	etcd.StorageConfig.Codec = aggregatorscheme.Codecs.LegacyCodec(apiregistrationv1.SchemeGroupVersion, apiregistrationv1beta1.SchemeGroupVersion)
	etcd.StorageConfig.EncodeVersioner = runtime.NewMultiGroupVersioner(apiregistrationv1.SchemeGroupVersion, schema.GroupKind{Group: apiregistrationv1beta1.GroupName})
	etcd.SkipHealthEndpoints = true
	if err := etcd.ApplyTo(&c); err != nil {
		return nil, fmt.Errorf("aggregator storage: %w", err)
	}
	c.MergedResourceConfig = aggregatorapiserver.DefaultAPIResourceConfigSource()
	return &aggregatorapiserver.Config{
		GenericConfig: &genericapiserver.RecommendedConfig{Config: c, SharedInformerFactory: informers},
		ExtraConfig: aggregatorapiserver.ExtraConfig{ServiceResolver: resolver,
			ProxyClientCertFile: proxyCert, ProxyClientKeyFile: proxyKey},
	}, nil
}

// newAggregator builds the aggregator in front of core and registers the
// APIServices of the built-in groups (once, at start) and of CRD groups
// (while a CRD serves them).
func newAggregator(cfg *aggregatorapiserver.Config, core *genericapiserver.GenericAPIServer, ext *apiextensionsapiserver.CustomResourceDefinitions) (*aggregatorapiserver.APIAggregator, error) {
	completed := cfg.Complete()
	agg, err := completed.NewWithDelegate(core)
	if err != nil {
		return nil, fmt.Errorf("creating the aggregator: %w", err)
	}
	client, err := apiregistrationclient.NewForConfig(completed.GenericConfig.LoopbackClientConfig)
	if err != nil {
		return nil, err
	}
	apiServices := agg.APIRegistrationInformers.Apiregistration().V1().APIServices()
	register := autoregister.NewAutoRegisterController(apiServices, client)
	builtin, err := builtinAPIServices(core.ListedPaths())
	if err != nil {
		return nil, err
	}
	for _, s := range builtin {
		register.AddAPIServiceToSyncOnStart(s)
	}
	for gv, p := range builtinPriorities {
		agg.GenericAPIServer.AggregatedDiscoveryGroupManager.SetGroupVersionPriority(metav1.GroupVersion{Group: gv.Group, Version: gv.Version}, int(p.group), int(p.version))
	}
	crds, err := newCRDRegistration(ext.Informers.Apiextensions().V1().CustomResourceDefinitions(), register)
	if err != nil {
		return nil, err
	}
	if err := agg.GenericAPIServer.AddPostStartHook("kubeseed-apiservice-registration", func(hc genericapiserver.PostStartHookContext) error {
		go func() {
			if err := crds.run(hc); err != nil {
				return
			}
			register.Run(2, hc.Done())
		}()
		return nil
	}); err != nil {
		return nil, err
	}
	if err := agg.GenericAPIServer.AddBootSequenceHealthChecks(apiServicesAvailable(builtin, apiServices.Lister())); err != nil {
		return nil, err
	}
	return agg, nil
}
