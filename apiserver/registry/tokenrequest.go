package registry

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/utils/ptr"

	"github.com/kubeseed/kubeseed/apiserver/serviceaccount"
)

// Tokens configures service account tokens.
type Tokens struct {
	Key       *serviceaccount.Key
	Issuer    string
	Audiences []string
	// Lookup is filled in by BuildAll with the stores, for the authenticator.
	Lookup *StoreLookup
}

// Token lifetimes, upstream's.
const (
	defaultTokenSeconds = 3600
	minTokenSeconds     = 600
	// kubeletTokenSeconds is what the kubelet asks for in kube-api-access
	// volumes; such tokens are extended to a year (warning after the asked
	// hour), as kube-apiserver's --service-account-extend-token-expiration.
	kubeletTokenSeconds = 3607
	extendedTokenLife   = 365 * 24 * time.Hour
)

// StoreLookup finds the objects tokens name, from the watch cache.
type StoreLookup struct {
	serviceAccounts, pods, secrets, nodes *genericregistry.Store
}

var _ serviceaccount.Lookup = &StoreLookup{}

func get[T runtime.Object](ctx context.Context, s *genericregistry.Store, namespace, name string) (T, error) {
	var zero T
	if s == nil {
		return zero, fmt.Errorf("server still starting")
	}
	ctx = genericapirequest.WithNamespace(ctx, namespace)
	// The watch cache first, as an informer would; an object created a
	// moment ago (a pod whose token the kubelet asks for at once) may not be
	// there yet, so a miss is confirmed by a consistent read.
	obj, err := s.Get(ctx, name, &metav1.GetOptions{ResourceVersion: "0"})
	if apierrors.IsNotFound(err) {
		obj, err = s.Get(ctx, name, &metav1.GetOptions{})
	}
	if apierrors.IsNotFound(err) {
		// Named for what is missing, not for the request's resource.
		return zero, apierrors.NewNotFound(s.DefaultQualifiedResource, name)
	}
	if err != nil {
		return zero, err
	}
	t, ok := obj.(T)
	if !ok {
		return zero, fmt.Errorf("unexpected %T", obj)
	}
	return t, nil
}

func (l *StoreLookup) ServiceAccount(ctx context.Context, ns, name string) (*corev1.ServiceAccount, error) {
	return get[*corev1.ServiceAccount](ctx, l.serviceAccounts, ns, name)
}
func (l *StoreLookup) Pod(ctx context.Context, ns, name string) (*corev1.Pod, error) {
	return get[*corev1.Pod](ctx, l.pods, ns, name)
}
func (l *StoreLookup) Secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	return get[*corev1.Secret](ctx, l.secrets, ns, name)
}
func (l *StoreLookup) Node(ctx context.Context, name string) (*corev1.Node, error) {
	return get[*corev1.Node](ctx, l.nodes, "", name)
}

// TokenRequestREST serves serviceaccounts/token (kubectl create token, and
// the kubelet's projected serviceAccountToken volumes).
type TokenRequestREST struct {
	tokens Tokens
	now    func() time.Time
}

var (
	_ rest.NamedCreater             = &TokenRequestREST{}
	_ rest.GroupVersionKindProvider = &TokenRequestREST{}
)

func (r *TokenRequestREST) New() runtime.Object { return &authenticationv1.TokenRequest{} }
func (r *TokenRequestREST) Destroy()            {}

// GroupVersionKind says the subresource speaks authentication.k8s.io/v1.
func (r *TokenRequestREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return authenticationv1.SchemeGroupVersion.WithKind("TokenRequest")
}

func (r *TokenRequestREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	req, ok := obj.(*authenticationv1.TokenRequest)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a TokenRequest: %T", obj))
	}
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	out := req.DeepCopy()
	if out.Spec.ExpirationSeconds == nil {
		out.Spec.ExpirationSeconds = ptr.To(int64(defaultTokenSeconds))
	}
	if len(out.Spec.Audiences) == 0 {
		out.Spec.Audiences = r.tokens.Audiences
	}
	if errs := validateTokenRequest(out); len(errs) > 0 {
		return nil, apierrors.NewInvalid(authenticationv1.SchemeGroupVersion.WithKind("TokenRequest").GroupKind(), name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, out.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	lookup := r.tokens.Lookup
	sa, err := lookup.ServiceAccount(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if r.now != nil {
		now = r.now
	}
	issued := now().Truncate(time.Second)
	asked := time.Duration(*out.Spec.ExpirationSeconds) * time.Second
	claims := &serviceaccount.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    r.tokens.Issuer,
			Subject:   serviceaccount.UserPrefix + ns + ":" + name,
			Audience:  out.Spec.Audiences,
			IssuedAt:  jwt.NewNumericDate(issued),
			NotBefore: jwt.NewNumericDate(issued),
			ExpiresAt: jwt.NewNumericDate(issued.Add(asked)),
			ID:        uuid.NewString(),
		},
		Kubernetes: serviceaccount.Private{Namespace: ns, ServiceAccount: serviceaccount.Ref{Name: sa.Name, UID: sa.UID}},
	}
	if ref := out.Spec.BoundObjectRef; ref != nil {
		if err := r.bind(ctx, ns, sa, ref, claims); err != nil {
			return nil, err
		}
		if claims.Kubernetes.Pod != nil && *out.Spec.ExpirationSeconds == kubeletTokenSeconds {
			claims.Kubernetes.WarnAfter = claims.ExpiresAt
			claims.ExpiresAt = jwt.NewNumericDate(issued.Add(extendedTokenLife))
		}
	}
	token, err := r.tokens.Key.Sign(claims)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	// The status says when to refresh: the lifetime asked for, even when
	// the token itself was extended.
	out.Status = authenticationv1.TokenRequestStatus{Token: token, ExpirationTimestamp: metav1.NewTime(issued.Add(asked))}
	return out, nil
}

// bind checks the object the token is bound to and records it in claims, so
// the token stops working when the object goes.
func (r *TokenRequestREST) bind(ctx context.Context, ns string, sa *corev1.ServiceAccount, ref *authenticationv1.BoundObjectReference, claims *serviceaccount.Claims) error {
	lookup := r.tokens.Lookup
	var uid, resource = "", ""
	switch ref.Kind {
	case "Pod":
		pod, err := lookup.Pod(ctx, ns, ref.Name)
		if err != nil {
			return err
		}
		if pod.Spec.ServiceAccountName != sa.Name {
			return apierrors.NewBadRequest(fmt.Sprintf("cannot bind token for serviceaccount %q to pod running with different serviceaccount name.", sa.Name))
		}
		uid, resource = string(pod.UID), "pods"
		claims.Kubernetes.Pod = &serviceaccount.Ref{Name: pod.Name, UID: pod.UID}
		if pod.Spec.NodeName != "" {
			if node, err := lookup.Node(ctx, pod.Spec.NodeName); err == nil {
				claims.Kubernetes.Node = &serviceaccount.Ref{Name: node.Name, UID: node.UID}
			}
		}
	case "Secret":
		secret, err := lookup.Secret(ctx, ns, ref.Name)
		if err != nil {
			return err
		}
		uid, resource = string(secret.UID), "secrets"
		claims.Kubernetes.Secret = &serviceaccount.Ref{Name: secret.Name, UID: secret.UID}
	case "Node":
		node, err := lookup.Node(ctx, ref.Name)
		if err != nil {
			return err
		}
		uid, resource = string(node.UID), "nodes"
		claims.Kubernetes.Node = &serviceaccount.Ref{Name: node.Name, UID: node.UID}
	default:
		return apierrors.NewBadRequest(fmt.Sprintf("cannot bind token to object of type %s", ref.Kind))
	}
	if ref.UID != "" && string(ref.UID) != uid {
		return apierrors.NewConflict(corev1.Resource(resource), ref.Name,
			fmt.Errorf("the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated", ref.UID))
	}
	return nil
}

func validateTokenRequest(tr *authenticationv1.TokenRequest) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	exp := *tr.Spec.ExpirationSeconds
	switch {
	case exp < minTokenSeconds:
		errs = append(errs, field.Invalid(spec.Child("expirationSeconds"), exp, "may not specify a duration less than 10 minutes"))
	case exp > math.MaxUint32:
		errs = append(errs, field.Invalid(spec.Child("expirationSeconds"), exp, "may not specify a duration larger than 2^32 seconds"))
	}
	if ref := tr.Spec.BoundObjectRef; ref != nil && ref.APIVersion != "" && ref.APIVersion != "v1" {
		errs = append(errs, field.NotSupported(spec.Child("boundObjectRef", "apiVersion"), ref.APIVersion, []string{"v1"}))
	}
	return errs
}
