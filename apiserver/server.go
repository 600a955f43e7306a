package apiserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	apimachineryversion "k8s.io/apimachinery/pkg/version"
	"k8s.io/apiserver/pkg/authentication/group"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	x509request "k8s.io/apiserver/pkg/authentication/request/x509"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	authorizerunion "k8s.io/apiserver/pkg/authorization/union"
	discoveryendpoint "k8s.io/apiserver/pkg/endpoints/discovery/aggregated"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	serveroptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	clientinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	basecompatibility "k8s.io/component-base/compatibility"
	"k8s.io/klog/v2"
	aggregatorapiserver "k8s.io/kube-aggregator/pkg/apiserver"

	"github.com/kubeseed/kubeseed/apiserver/allocator"
	"github.com/kubeseed/kubeseed/apiserver/etcd"
	"github.com/kubeseed/kubeseed/apiserver/metrics"
	"github.com/kubeseed/kubeseed/apiserver/pki"
	"github.com/kubeseed/kubeseed/apiserver/rbac"
	"github.com/kubeseed/kubeseed/apiserver/registry"
	"github.com/kubeseed/kubeseed/apiserver/scheme"
	"github.com/kubeseed/kubeseed/apiserver/serviceaccount"
	kubeseedversion "github.com/kubeseed/kubeseed/version"
)

// Server is a configured API server; Run starts it.
type Server struct {
	cfg   Config
	ready chan struct{}

	// Set by build: the bootstrap hook's completion and the loopback client.
	bootstrapped <-chan struct{}
	loopback     *rest.Config
}

// New checks cfg and creates the PKI under DataDir/pki (kept across
// restarts), so AdminKubeconfig's credentials exist before Run.
func New(cfg Config) (*Server, error) {
	c, err := cfg.complete()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data dir: %w", err)
	}
	ipRange, _ := allocator.ParseIPRange(c.ServiceClusterIPRange)
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(ipRange.FirstIP()), net.ParseIP(c.AdvertiseAddress)}
	if bind := net.ParseIP(c.BindAddress); !bind.IsUnspecified() {
		ips = append(ips, bind)
	}
	dns := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
	if host, err := os.Hostname(); err == nil && host != "" {
		dns = append(dns, host)
	}
	if _, err := pki.Ensure(pki.Options{Dir: c.pkiDir(), IPs: ips, DNSNames: dns}); err != nil {
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	if err := pki.WriteKubeconfig(c.adminKubeconfig(), c.serverURL(), c.pkiDir(), pki.AdminCert, pki.AdminKey, "kubeseed"); err != nil {
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	return &Server{cfg: c, ready: make(chan struct{})}, nil
}

func (c Config) pkiDir() string          { return filepath.Join(c.DataDir, "pki") }
func (c Config) adminKubeconfig() string { return filepath.Join(c.DataDir, "admin.kubeconfig") }

// serverURL is how local clients reach the server.
func (c Config) serverURL() string {
	host := c.BindAddress
	if ip := net.ParseIP(host); ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "https://" + net.JoinHostPort(host, strconv.Itoa(c.SecurePort))
}

// AdminKubeconfig returns the path of DataDir/admin.kubeconfig, whose client
// certificate is in group system:masters.
func (s *Server) AdminKubeconfig() string { return s.cfg.adminKubeconfig() }

// PKIDir returns the directory holding the CA and the certificates.
func (s *Server) PKIDir() string { return s.cfg.pkiDir() }

// Ready is closed once /readyz passes and the default namespaces and the
// kubernetes service exist.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Run serves until ctx ends, then shuts the server and etcd down.
func (s *Server) Run(ctx context.Context) error {
	logger := klog.FromContext(ctx).WithName("apiserver")
	ctx, cancel := context.WithCancel(klog.NewContext(ctx, logger))
	defer cancel()

	endpoints := s.cfg.EtcdServers
	etcdErr := make(<-chan error)
	if len(endpoints) == 0 {
		e, err := etcd.Start(ctx, etcd.Config{Dir: filepath.Join(s.cfg.DataDir, "etcd"), UnsafeNoFsync: s.cfg.EtcdUnsafeNoFsync})
		if err != nil {
			return err
		}
		defer e.Close()
		endpoints, etcdErr = e.Endpoints(), e.Err()
		logger.Info("Embedded etcd started", "endpoints", endpoints)
	}
	etcdClient, err := s.etcdClient(endpoints)
	if err != nil {
		return err
	}
	defer etcdClient.Close()

	server, err := s.build(endpoints, etcdClient)
	if err != nil {
		return err
	}
	go func() {
		select {
		case err := <-etcdErr:
			logger.Error(err, "Embedded etcd failed; stopping")
			cancel()
		case <-ctx.Done():
		}
	}()
	go s.waitReady(ctx)
	logger.Info("Serving", "address", s.cfg.serverURL(), "kubeconfig", s.AdminKubeconfig())
	prepared, err := server.PrepareRun()
	if err != nil {
		return fmt.Errorf("preparing the API server: %w", err)
	}
	return prepared.Run(ctx)
}

func (s *Server) etcdClient(endpoints []string) (*clientv3.Client, error) {
	cc := clientv3.Config{Endpoints: endpoints, DialTimeout: 20 * time.Second}
	if s.cfg.EtcdCertFile != "" || s.cfg.EtcdCAFile != "" {
		tlsCfg, err := etcdTLS(s.cfg.EtcdCAFile, s.cfg.EtcdCertFile, s.cfg.EtcdKeyFile)
		if err != nil {
			return nil, err
		}
		cc.TLS = tlsCfg
	}
	c, err := clientv3.New(cc)
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd %v: %w", endpoints, err)
	}
	return c, nil
}

// build assembles the generic API server with every served group installed.
func (s *Server) build(endpoints []string, etcdClient *clientv3.Client) (*aggregatorapiserver.APIAggregator, error) {
	sch, err := scheme.New()
	if err != nil {
		return nil, err
	}
	external, err := scheme.External()
	if err != nil {
		return nil, err
	}
	codecs := serializer.NewCodecFactory(sch)
	config := genericapiserver.NewConfig(codecs)
	config.EffectiveVersion = servedVersion{basecompatibility.NewEffectiveVersionFromString(strings.TrimPrefix(kubeseedversion.Kubernetes, "v"), "", "")}

	serving := serveroptions.NewSecureServingOptions().WithLoopback()
	serving.BindAddress = net.ParseIP(s.cfg.BindAddress)
	serving.BindPort = s.cfg.SecurePort
	serving.ServerCert.CertKey = serveroptions.CertKey{
		CertFile: filepath.Join(s.cfg.pkiDir(), pki.ServingCert),
		KeyFile:  filepath.Join(s.cfg.pkiDir(), pki.ServingKey),
	}
	if err := serving.ApplyTo(&config.SecureServing, &config.LoopbackClientConfig); err != nil {
		return nil, fmt.Errorf("secure serving: %w", err)
	}
	// The server's clients of itself never leave the process's loopback:
	// gzip on their watches would only cost a compressor per watch here and
	// a decompressor per watch in the client, and CPU for every event.
	config.LoopbackClientConfig.DisableCompression = true
	// The address clients are told to use (discovery's
	// serverAddressByClientCIDRs, the service account key set's URL), as
	// kube-apiserver's --advertise-address.
	config.PublicAddress = net.ParseIP(s.cfg.AdvertiseAddress)
	caPEM, err := os.ReadFile(filepath.Join(s.cfg.pkiDir(), pki.CACert))
	if err != nil {
		return nil, err
	}
	clientCA, err := dynamiccertificates.NewStaticCAContent("client-ca", caPEM)
	if err != nil {
		return nil, fmt.Errorf("client CA: %w", err)
	}
	config.SecureServing.ClientCA = clientCA
	// Client certificates signed by the cluster CA authenticate users (CN) and
	// groups (O); service account tokens authenticate pods.
	tokens, err := s.serviceAccountTokens()
	if err != nil {
		return nil, err
	}
	config.Authentication.APIAudiences = tokens.Audiences
	config.Authentication.Authenticator = group.NewAuthenticatedGroupAdder(union.New(
		x509request.NewDynamic(clientCA.VerifyOptions, x509request.CommonNameUserConversion),
		bearertoken.New(&serviceaccount.Authenticator{Key: tokens.Key, Issuer: tokens.Issuer, Audiences: tokens.Audiences, Lookup: tokens.Lookup})))
	loopbackClient, err := kubernetes.NewForConfig(config.LoopbackClientConfig)
	if err != nil {
		return nil, err
	}
	informers := clientinformers.NewSharedInformerFactory(loopbackClient, 10*time.Minute)
	services := aggregatorapiserver.NewClusterIPServiceResolver(informers.Core().V1().Services().Lister())

	var rules authorizer.RuleResolver
	if config.Authorization.Authorizer, rules, err = authorizerFor(informers); err != nil {
		return nil, err
	}
	genericapiserver.AuthorizeClientBearerToken(config.LoopbackClientConfig, &config.Authentication, &config.Authorization)

	setOpenAPI(config, external)
	// One aggregated discovery document for the whole chain, each server
	// adding its groups (as kube-apiserver shares it).
	config.AggregatedDiscoveryGroupManager = discoveryendpoint.NewResourceManager("apis")

	backend := storagebackend.NewDefaultConfig("/registry", nil)
	backend.Transport.ServerList = endpoints
	backend.Transport.TrustedCAFile = s.cfg.EtcdCAFile
	backend.Transport.CertFile = s.cfg.EtcdCertFile
	backend.Transport.KeyFile = s.cfg.EtcdKeyFile
	etcdOptions := serveroptions.NewEtcdOptions(backend)
	// The other servers of the chain copy the configuration before the
	// core's storage and etcd health check are added to it.
	// One admission chain for the whole chain of servers, as kube-apiserver
	// shares one; its plugins ignore what is not theirs.
	if config.AdmissionControl, err = newAdmission(s.cfg.DisableAdmissionPlugins, informers, loopbackClient, config.Authorization.Authorizer, config.EffectiveVersion); err != nil {
		return nil, err
	}
	extCfg, err := extensionsConfig(*config, *etcdOptions, informers, services)
	if err != nil {
		return nil, err
	}
	aggCfg, err := aggregatorConfig(*config, *etcdOptions, informers, services,
		filepath.Join(s.cfg.pkiDir(), pki.FrontProxyClientCert), filepath.Join(s.cfg.pkiDir(), pki.FrontProxyClientKey))
	if err != nil {
		return nil, err
	}
	if err := etcdOptions.ApplyWithStorageFactoryTo(newStorageFactory(*backend, codecs), config); err != nil {
		return nil, fmt.Errorf("etcd storage: %w", err)
	}

	ext, err := extCfg.Complete().New(genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("creating the apiextensions server: %w", err)
	}
	server, err := config.Complete(informers).New("kubeseed-apiserver", ext.GenericAPIServer)
	if err != nil {
		return nil, fmt.Errorf("creating API server: %w", err)
	}
	ipRange, _ := allocator.ParseIPRange(s.cfg.ServiceClusterIPRange)
	portRange, _ := allocator.ParsePortRange(s.cfg.ServiceNodePortRange)
	nodes, err := s.nodeTransport()
	if err != nil {
		return nil, err
	}
	allocators := &registry.ServiceAllocators{
		IPs:   &allocator.Allocator{Range: ipRange, Client: etcdClient, Prefix: "/registry/kubeseed/serviceips/"},
		Ports: &allocator.Allocator{Range: portRange, Client: etcdClient, Prefix: "/registry/kubeseed/servicenodeports/"},
	}
	groups, err := registry.BuildAll(registry.Deps{
		Nodes:       nodes,
		Authorizer:  config.Authorization.Authorizer,
		Rules:       rules,
		Typer:       sch,
		RESTOptions: config.RESTOptionsGetter,
		Services:    allocators,
		Tokens:      tokens,
	})
	if err != nil {
		return nil, err
	}
	if err := serveIssuerDiscovery(server, tokens); err != nil {
		return nil, err
	}
	scraper := &metrics.Scraper{Transport: nodes.Transport}
	groups = append(groups, metrics.Group(scraper))
	if err := install(server, groups, sch, codecs); err != nil {
		return nil, err
	}
	if err := server.AddPostStartHook("kubeseed-metrics-scraper", func(hc genericapiserver.PostStartHookContext) error {
		client, err := kubernetes.NewForConfig(hc.LoopbackClientConfig)
		if err != nil {
			return err
		}
		go scraper.Run(hc, client)
		return nil
	}); err != nil {
		return nil, err
	}
	frontProxyCA, err := os.ReadFile(filepath.Join(s.cfg.pkiDir(), pki.FrontProxyCACert))
	if err != nil {
		return nil, err
	}
	authTrust, err := authenticationTrust(caPEM, frontProxyCA)
	if err != nil {
		return nil, err
	}
	b := &bootstrap{kubernetesIP: ipRange.FirstIP(), endpointIP: s.cfg.AdvertiseAddress, port: s.cfg.SecurePort, allocators: allocators,
		authTrust: authTrust, done: make(chan struct{})}
	s.bootstrapped, s.loopback = b.done, config.LoopbackClientConfig
	if err := server.AddPostStartHook("kubeseed-bootstrap", func(hc genericapiserver.PostStartHookContext) error {
		client, err := kubernetes.NewForConfig(hc.LoopbackClientConfig)
		if err != nil {
			return err
		}
		go b.run(hc, client)
		return nil
	}); err != nil {
		return nil, err
	}
	// Last: the aggregator takes over the delegates' post-start hooks and
	// the paths they list when it is created.
	return newAggregator(aggCfg, server, ext)
}

func install(server *genericapiserver.GenericAPIServer, groups []registry.Group, sch *runtime.Scheme, codecs serializer.CodecFactory) error {
	params := runtime.NewParameterCodec(sch)
	var named []*genericapiserver.APIGroupInfo
	for _, g := range groups {
		info := genericapiserver.NewDefaultAPIGroupInfo(g.GroupVersion.Group, sch, params, codecs)
		info.PrioritizedVersions = append(info.PrioritizedVersions[:0], g.GroupVersion)
		info.VersionedResourcesStorageMap[g.GroupVersion.Version] = g.Storage
		if g.GroupVersion.Group == "" {
			if err := server.InstallLegacyAPIGroup(genericapiserver.DefaultLegacyAPIPrefix, &info); err != nil {
				return fmt.Errorf("installing core API: %w", err)
			}
			continue
		}
		named = append(named, &info)
	}
	if err := server.InstallAPIGroups(named...); err != nil {
		return fmt.Errorf("installing API groups: %w", err)
	}
	return nil
}

// servedVersion reports the Kubernetes release kubeseed serves when the
// binary was built without component-base's version stamp (go test, go run),
// because kubectl cannot parse v0.0.0-master.
type servedVersion struct {
	basecompatibility.EffectiveVersion
}

func (v servedVersion) Info() *apimachineryversion.Info {
	info := v.EffectiveVersion.Info()
	if info != nil && (info.GitVersion == "" || strings.HasPrefix(info.GitVersion, "v0.0.0")) {
		info.GitVersion = kubeseedversion.Kubernetes
		info.GitTreeState = "clean"
	}
	return info
}

// waitReady closes s.ready once bootstrapping finished and /readyz passes.
func (s *Server) waitReady(ctx context.Context) {
	select {
	case <-s.bootstrapped:
	case <-ctx.Done():
		return
	}
	client, err := kubernetes.NewForConfig(s.loopback)
	if err != nil {
		klog.FromContext(ctx).Error(err, "Readiness client")
		return
	}
	for ctx.Err() == nil {
		body, err := client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err == nil && string(body) == "ok" {
			close(s.ready)
			klog.FromContext(ctx).Info("Ready")
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// authorizerFor is kube-apiserver's --authorization-mode=RBAC: system:masters
// may do anything (the admin kubeconfig, kubeseed's own components), everyone
// else what the RBAC objects, read through informers, grant. The rule
// resolver (SelfSubjectRulesReview) is RBAC's alone, as upstream's, so even
// system:masters sees the rules its bindings give.
func authorizerFor(informers clientinformers.SharedInformerFactory) (authorizer.Authorizer, authorizer.RuleResolver, error) {
	r := informers.Rbac().V1()
	rbacAuthorizer := &rbac.Authorizer{Listers: rbac.Listers{
		Roles:               r.Roles().Lister(),
		RoleBindings:        r.RoleBindings().Lister(),
		ClusterRoles:        r.ClusterRoles().Lister(),
		ClusterRoleBindings: r.ClusterRoleBindings().Lister(),
	}}
	a, err := authorizerunion.New(
		authorizerunion.NamedAuthorizer{AuthorizerName: "privileged-groups", Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)},
		authorizerunion.NamedAuthorizer{AuthorizerName: "rbac", Authorizer: rbacAuthorizer})
	return a, rbacAuthorizer, err
}

// serviceAccountTokens sets up service account tokens, signed with a key kept
// in the PKI directory so tokens outlive a restart.
func (s *Server) serviceAccountTokens() (*registry.Tokens, error) {
	key, err := serviceaccount.LoadOrCreateKey(filepath.Join(s.cfg.pkiDir(), "sa.key"))
	if err != nil {
		return nil, fmt.Errorf("apiserver: %w", err)
	}
	return &registry.Tokens{
		Key:       key,
		Issuer:    serviceaccount.DefaultIssuer,
		Audiences: []string{serviceaccount.DefaultIssuer},
		Lookup:    &registry.StoreLookup{},
	}, nil
}

// serveIssuerDiscovery serves service account issuer discovery (the OpenID
// configuration and key set), as kube-apiserver does by default, with the
// key set at this server's external address.
func serveIssuerDiscovery(server *genericapiserver.GenericAPIServer, tokens *registry.Tokens) error {
	jwks, err := tokens.Key.JWKS()
	if err != nil {
		return fmt.Errorf("service account key set: %w", err)
	}
	jwksURI := (&url.URL{Scheme: "https", Host: server.ExternalAddress, Path: serviceaccount.JWKSPath}).String()
	config, err := serviceaccount.OpenIDConfiguration(tokens.Issuer, jwksURI)
	if err != nil {
		return fmt.Errorf("service account issuer discovery: %w", err)
	}
	server.Handler.NonGoRestfulMux.Handle(serviceaccount.OpenIDConfigurationPath, serviceaccount.DiscoveryHandler(config, "application/json"))
	server.Handler.NonGoRestfulMux.Handle(serviceaccount.JWKSPath, serviceaccount.DiscoveryHandler(jwks, "application/jwk-set+json"))
	return nil
}

// nodeTransport authenticates to node agents with the apiserver-kubelet-client
// certificate. Node serving certificates are not verified, as upstream does
// when no --kubelet-certificate-authority is given: node agents serve
// self-signed certificates.
func (s *Server) nodeTransport() (registry.NodeTransport, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(s.cfg.pkiDir(), pki.KubeletClientCert), filepath.Join(s.cfg.pkiDir(), pki.KubeletClientKey))
	if err != nil {
		return registry.NodeTransport{}, fmt.Errorf("node client certificate: %w", err)
	}
	t := utilnet.SetTransportDefaults(&http.Transport{TLSClientConfig: &tls.Config{
		Certificates:       []tls.Certificate{cert},
		InsecureSkipVerify: true, //nolint:gosec // see above
		MinVersion:         tls.VersionTLS12,
	}})
	return registry.NodeTransport{Transport: t}, nil
}
