// Package serviceaccount issues and checks service account tokens: the JWTs
// that pods present to the API server (TokenRequest, projected
// serviceAccountToken volumes), with upstream's claims, so tokens read the
// same to the workloads and tools that decode them.
package serviceaccount

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/user"
)

// DefaultIssuer is kube-apiserver's usual --service-account-issuer, also the
// default audience.
const DefaultIssuer = "https://kubernetes.default.svc.cluster.local"

// Names upstream gives service account users and groups.
const (
	UserPrefix     = "system:serviceaccount:"
	AllGroup       = "system:serviceaccounts"
	GroupPrefix    = "system:serviceaccounts:"
	podNameExtra   = "authentication.kubernetes.io/pod-name"
	podUIDExtra    = "authentication.kubernetes.io/pod-uid"
	nodeNameExtra  = "authentication.kubernetes.io/node-name"
	nodeUIDExtra   = "authentication.kubernetes.io/node-uid"
	credentialXtra = "authentication.kubernetes.io/credential-id"
)

// Ref names an object a token is bound to.
type Ref struct {
	Name string    `json:"name"`
	UID  types.UID `json:"uid"`
}

// Private are the kubernetes.io claims of a bound token.
type Private struct {
	Namespace      string `json:"namespace"`
	ServiceAccount Ref    `json:"serviceaccount"`
	Pod            *Ref   `json:"pod,omitempty"`
	Secret         *Ref   `json:"secret,omitempty"`
	Node           *Ref   `json:"node,omitempty"`
	// WarnAfter is set on tokens whose lifetime was extended for kubelets
	// that do not refresh them: past it, a use is worth a warning.
	WarnAfter *jwt.NumericDate `json:"warnafter,omitempty"`
}

// Claims are a token's claims.
type Claims struct {
	jwt.RegisteredClaims
	Kubernetes Private `json:"kubernetes.io"`
}

// Key is the signing key, kept in a PEM file so tokens survive a restart.
type Key struct {
	private *ecdsa.PrivateKey
	kid     string
}

func newKey(private *ecdsa.PrivateKey) (*Key, error) {
	der, err := x509.MarshalPKIXPublicKey(&private.PublicKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	return &Key{private: private, kid: base64.RawURLEncoding.EncodeToString(sum[:])}, nil
}

// LoadOrCreateKey reads the EC private key at path, or creates one there.
func LoadOrCreateKey(path string) (*Key, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("writing the service account key: %w", err)
		}
		return newKey(k)
	}
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("service account key %s: no PEM block", path)
	}
	k, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("service account key %s: %w", path, err)
	}
	return newKey(k)
}

// Sign returns the signed token for claims, its header naming the key
// (kid), as upstream's do, so verifiers pick it from the issuer's key set.
func (k *Key) Sign(c *Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	t.Header["kid"] = k.kid
	return t.SignedString(k.private)
}

// Lookup finds the objects a token names, so a token dies with them.
type Lookup interface {
	ServiceAccount(ctx context.Context, namespace, name string) (*corev1.ServiceAccount, error)
	Pod(ctx context.Context, namespace, name string) (*corev1.Pod, error)
	Secret(ctx context.Context, namespace, name string) (*corev1.Secret, error)
	Node(ctx context.Context, name string) (*corev1.Node, error)
}

// Authenticator accepts tokens this server signed for one of its audiences,
// while the service account (and the pod, secret or node it is bound to)
// still exists with the same UID.
type Authenticator struct {
	Key       *Key
	Issuer    string
	Audiences []string
	Lookup    Lookup
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

var _ authenticator.Token = &Authenticator{}

// AuthenticateToken implements authenticator.Token. A token that is not a
// JWT from this issuer is not ours: (nil, false, nil) lets other
// authenticators try it.
func (a *Authenticator) AuthenticateToken(ctx context.Context, token string) (*authenticator.Response, bool, error) {
	var c Claims
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	parsed, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return &a.Key.private.PublicKey, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}), jwt.WithIssuer(a.Issuer), jwt.WithTimeFunc(now),
		jwt.WithExpirationRequired())
	if err != nil {
		if errors.Is(err, jwt.ErrTokenMalformed) || errors.Is(err, jwt.ErrTokenInvalidIssuer) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("invalid bearer token: %w", err)
	}
	if !parsed.Valid {
		return nil, false, errors.New("invalid bearer token")
	}
	aud := intersect(a.Audiences, c.Audience)
	if len(aud) == 0 {
		return nil, false, errors.New("token audiences are not accepted by this server")
	}
	k := c.Kubernetes
	sa, err := a.Lookup.ServiceAccount(ctx, k.Namespace, k.ServiceAccount.Name)
	if err != nil || sa.UID != k.ServiceAccount.UID || sa.DeletionTimestamp != nil {
		return nil, false, fmt.Errorf("service account %s/%s has been deleted or replaced", k.Namespace, k.ServiceAccount.Name)
	}
	u := &user.DefaultInfo{
		Name:   UserPrefix + k.Namespace + ":" + sa.Name,
		UID:    string(sa.UID),
		Groups: []string{AllGroup, GroupPrefix + k.Namespace},
		Extra:  map[string][]string{},
	}
	if c.ID != "" {
		u.Extra[credentialXtra] = []string{"JTI=" + c.ID}
	}
	if p := k.Pod; p != nil {
		pod, err := a.Lookup.Pod(ctx, k.Namespace, p.Name)
		if err != nil || pod.UID != p.UID || pod.DeletionTimestamp != nil {
			return nil, false, fmt.Errorf("pod %s/%s the token is bound to has been deleted", k.Namespace, p.Name)
		}
		u.Extra[podNameExtra], u.Extra[podUIDExtra] = []string{p.Name}, []string{string(p.UID)}
	}
	if s := k.Secret; s != nil {
		secret, err := a.Lookup.Secret(ctx, k.Namespace, s.Name)
		if err != nil || secret.UID != s.UID || secret.DeletionTimestamp != nil {
			return nil, false, fmt.Errorf("secret %s/%s the token is bound to has been deleted", k.Namespace, s.Name)
		}
	}
	if n := k.Node; n != nil {
		node, err := a.Lookup.Node(ctx, n.Name)
		if err != nil || (n.UID != "" && node.UID != n.UID) {
			return nil, false, fmt.Errorf("node %s the token is bound to has been deleted", n.Name)
		}
		u.Extra[nodeNameExtra] = []string{n.Name}
		if n.UID != "" {
			u.Extra[nodeUIDExtra] = []string{string(n.UID)}
		}
	}
	return &authenticator.Response{User: u, Audiences: aud}, true, nil
}

func intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
