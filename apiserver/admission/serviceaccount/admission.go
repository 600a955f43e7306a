package serviceaccount

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	genericadmissioninitializer "k8s.io/apiserver/pkg/admission/initializer"
	"k8s.io/apiserver/pkg/storage/names"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
)

// Upstream's names and values.
const (
	// PluginName is the name kube-apiserver's --enable/--disable-admission-plugins know it by.
	PluginName = "ServiceAccount"
	// DefaultServiceAccountName is the account of a pod that names none.
	DefaultServiceAccountName = "default"
	// EnforceMountableSecretsAnnotation, "true" on a service account, limits
	// its pods to the secrets the account lists.
	EnforceMountableSecretsAnnotation = "kubernetes.io/enforce-mountable-secrets"
	// MirrorPodAnnotation marks a kubelet's mirror of a static pod.
	MirrorPodAnnotation = "kubernetes.io/config.mirror"

	// defaultAttempts is how often the default account is looked up before
	// a pod is refused: the service account controller creates it just
	// after the namespace, and a controller creating pods may race it.
	defaultAttempts = 10
)

// Register registers the plugin under PluginName.
func Register(plugins *admission.Plugins) {
	plugins.Register(PluginName, func(io.Reader) (admission.Interface, error) { return New(), nil })
}

// Plugin is the admission plugin. Create it with New; the admission
// initializer gives it a client and an informer factory.
type Plugin struct {
	*admission.Handler

	client         kubernetes.Interface
	serviceAccount corev1listers.ServiceAccountLister

	// generateName names a new kube-api-access volume.
	generateName func(prefix string) string
	// retryInterval is the pause between lookups of the default account.
	retryInterval func() time.Duration
}

var (
	_ admission.MutationInterface                                  = &Plugin{}
	_ admission.ValidationInterface                                = &Plugin{}
	_ admission.InitializationValidator                            = &Plugin{}
	_ genericadmissioninitializer.WantsExternalKubeClientSet       = &Plugin{}
	_ genericadmissioninitializer.WantsExternalKubeInformerFactory = &Plugin{}
)

// New returns the plugin, not yet initialized.
func New() *Plugin {
	return &Plugin{
		// Update: the ephemeralcontainers subresource, whose secret
		// references are checked too.
		Handler:      admission.NewHandler(admission.Create, admission.Update),
		generateName: names.SimpleNameGenerator.GenerateName,
		// One random pause per request between 100 and 200 ms, as upstream.
		retryInterval: func() time.Duration { return time.Duration(100+rand.IntN(100)) * time.Millisecond },
	}
}

// SetExternalKubeClientSet gives the client live lookups use.
func (p *Plugin) SetExternalKubeClientSet(c kubernetes.Interface) { p.client = c }

// SetExternalKubeInformerFactory gives the cache lookups read first.
func (p *Plugin) SetExternalKubeInformerFactory(f informers.SharedInformerFactory) {
	i := f.Core().V1().ServiceAccounts()
	p.serviceAccount = i.Lister()
	p.SetReadyFunc(i.Informer().HasSynced)
}

// ValidateInitialization checks the plugin got its client and informers.
func (p *Plugin) ValidateInitialization() error {
	if p.client == nil {
		return fmt.Errorf("%s admission: missing client", PluginName)
	}
	if p.serviceAccount == nil {
		return fmt.Errorf("%s admission: missing service account lister", PluginName)
	}
	return nil
}

// Admit gives a new pod its service account, the account's image pull
// secrets and the token volume, then validates it.
func (p *Plugin) Admit(ctx context.Context, a admission.Attributes, o admission.ObjectInterfaces) error {
	pod, ok := podOf(a)
	if !ok || a.GetOperation() != admission.Create {
		return nil
	}
	// A mirror pod's spec is the kubelet's: changing it would make the
	// kubelet delete and recreate it. It is only checked.
	if _, mirror := pod.Annotations[MirrorPodAnnotation]; mirror {
		return p.Validate(ctx, a, o)
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = DefaultServiceAccountName
		pod.Spec.DeprecatedServiceAccount = DefaultServiceAccountName //nolint:staticcheck // kept in step, as defaulting does
	}
	sa, err := p.lookup(ctx, a.GetNamespace(), pod.Spec.ServiceAccountName)
	if err != nil {
		return admission.NewForbidden(a, fmt.Errorf("error looking up service account %s/%s: %w", a.GetNamespace(), pod.Spec.ServiceAccountName, err))
	}
	if automount(sa, pod) {
		mountToken(pod, p.generateName)
	}
	if len(pod.Spec.ImagePullSecrets) == 0 && len(sa.ImagePullSecrets) > 0 {
		pod.Spec.ImagePullSecrets = make([]corev1.LocalObjectReference, len(sa.ImagePullSecrets))
		for i, s := range sa.ImagePullSecrets {
			pod.Spec.ImagePullSecrets[i].Name = s.Name
		}
	}
	return p.Validate(ctx, a, o)
}

// Validate refuses a new pod whose service account is missing or does not
// allow the secrets it references, and a mirror pod that references a
// service account, a secret or a token. On the ephemeralcontainers
// subresource it checks the ephemeral containers' secret references.
func (p *Plugin) Validate(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	pod, ok := podOf(a)
	if !ok {
		return nil
	}
	if a.GetOperation() == admission.Update && a.GetSubresource() == "ephemeralcontainers" {
		sa, err := p.podServiceAccount(ctx, a, pod)
		if err != nil {
			return err
		}
		if !enforceMountableSecrets(sa) {
			return nil
		}
		// Upstream returns this refusal unwrapped, so clients get it as a
		// 500 with the bare message rather than a 403; so do we.
		return ephemeralSecretReferences(sa, pod)
	}
	if a.GetOperation() != admission.Create {
		return nil
	}
	if _, mirror := pod.Annotations[MirrorPodAnnotation]; mirror {
		if err := mirrorPodReferences(pod); err != nil {
			return admission.NewForbidden(a, err)
		}
		return nil
	}
	sa, err := p.podServiceAccount(ctx, a, pod)
	if err != nil {
		return err
	}
	if enforceMountableSecrets(sa) {
		if err := secretReferences(sa, pod); err != nil {
			return admission.NewForbidden(a, err)
		}
	}
	return nil
}

// podOf returns the pod of a request on pods or pods/ephemeralcontainers.
func podOf(a admission.Attributes) (*corev1.Pod, bool) {
	if a.GetResource().GroupResource() != corev1.Resource("pods") || (a.GetSubresource() != "" && a.GetSubresource() != "ephemeralcontainers") {
		return nil, false
	}
	pod, ok := a.GetObject().(*corev1.Pod)
	return pod, ok && pod != nil
}

// podServiceAccount returns the service account the pod names, or the
// Forbidden error a pod without one gets.
func (p *Plugin) podServiceAccount(ctx context.Context, a admission.Attributes, pod *corev1.Pod) (*corev1.ServiceAccount, error) {
	if pod.Spec.ServiceAccountName == "" {
		return nil, admission.NewForbidden(a, fmt.Errorf("no service account specified for pod %s/%s", a.GetNamespace(), pod.Name))
	}
	sa, err := p.lookup(ctx, a.GetNamespace(), pod.Spec.ServiceAccountName)
	if err != nil {
		return nil, admission.NewForbidden(a, fmt.Errorf("error looking up service account %s/%s: %w", a.GetNamespace(), pod.Spec.ServiceAccountName, err))
	}
	return sa, nil
}

// lookup reads the service account from the cache, then from the API: one
// live read for most accounts, up to defaultAttempts for "default". Its
// NotFound names the resource "serviceaccount", as upstream's message does.
func (p *Plugin) lookup(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error) {
	sa, err := p.serviceAccount.ServiceAccounts(namespace).Get(name)
	if err == nil {
		return sa, nil
	}
	if !apierrors.IsNotFound(err) {
		return nil, err
	}
	attempts := 1
	if name == DefaultServiceAccountName {
		attempts = defaultAttempts
	}
	interval := p.retryInterval()
	for i := range attempts {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(interval):
			}
		}
		sa, err := p.client.CoreV1().ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			return sa, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	return nil, apierrors.NewNotFound(corev1.Resource("serviceaccount"), name)
}

// automount tells whether the pod gets the token volume: the pod's choice,
// else its account's, else yes.
func automount(sa *corev1.ServiceAccount, pod *corev1.Pod) bool {
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	if sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

// enforceMountableSecrets tells whether the account limits its pods to the
// secrets it lists.
func enforceMountableSecrets(sa *corev1.ServiceAccount) bool {
	v, ok := sa.Annotations[EnforceMountableSecretsAnnotation]
	if !ok {
		return false
	}
	enforce, _ := strconv.ParseBool(v)
	return enforce
}
