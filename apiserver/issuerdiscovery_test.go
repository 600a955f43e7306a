package apiserver_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// TestServiceAccountIssuerDiscovery: a relying party outside the cluster
// verifies a service account token with what the API server publishes, as
// with kube-apiserver: the OpenID configuration names the issuer and the key
// set, and the key named by the token's kid verifies its signature. Service
// accounts may read both (system:service-account-issuer-discovery); other
// users are not bound to it.
func TestServiceAccountIssuerDiscovery(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	const ns = "issuer-discovery"
	if _, err := s.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	if _, err := s.client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	tr, err := s.client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "robot", &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := tr.Status.Token
	get := func(bearer, path string) (int, string, []byte) {
		t.Helper()
		cfg := rest.AnonymousClientConfig(s.config)
		cfg.BearerToken = bearer
		hc, err := rest.HTTPClientFor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Get(cfg.Host + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), body
	}

	code, ctype, body := get(token, "/.well-known/openid-configuration")
	if code != http.StatusOK || ctype != "application/json" {
		t.Fatalf("openid-configuration: %d %s %s", code, ctype, body)
	}
	var config struct {
		Issuer        string   `json:"issuer"`
		JWKSURI       string   `json:"jwks_uri"`
		ResponseTypes []string `json:"response_types_supported"`
		SubjectTypes  []string `json:"subject_types_supported"`
		Algs          []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.Unmarshal(body, &config); err != nil {
		t.Fatal(err)
	}
	host, _ := url.Parse(s.config.Host)
	if config.Issuer != "https://kubernetes.default.svc.cluster.local" || config.JWKSURI != "https://"+host.Host+"/openid/v1/jwks" ||
		fmt.Sprint(config.ResponseTypes, config.SubjectTypes, config.Algs) != "[id_token] [public] [ES256]" {
		t.Errorf("openid-configuration: %s", body)
	}

	code, ctype, body = get(token, "/openid/v1/jwks")
	if code != http.StatusOK || ctype != "application/jwk-set+json" {
		t.Fatalf("jwks: %d %s %s", code, ctype, body)
	}
	var set struct {
		Keys []struct{ Use, Kty, Kid, Crv, Alg, X, Y string }
	}
	if err := json.Unmarshal(body, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks %s: %v", body, err)
	}
	k := set.Keys[0]
	coord := func(s string) *big.Int {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != 32 {
			t.Fatalf("coordinate %q: %v (%d bytes)", s, err, len(b))
		}
		return new(big.Int).SetBytes(b)
	}
	if k.Use != "sig" || k.Kty != "EC" || k.Crv != "P-256" || k.Alg != "ES256" || k.Kid == "" {
		t.Errorf("key %+v", k)
	}
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: coord(k.X), Y: coord(k.Y)}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		if tok.Header["kid"] != k.Kid {
			return nil, fmt.Errorf("token kid %v, key set has %s", tok.Header["kid"], k.Kid)
		}
		return pub, nil
	}, jwt.WithValidMethods([]string{"ES256"}), jwt.WithIssuer(config.Issuer)); err != nil {
		t.Errorf("the token does not verify with the published key: %v", err)
	}

	// Not a service account: not bound to the discovery role.
	jane := rest.CopyConfig(s.config)
	jane.Impersonate = rest.ImpersonationConfig{UserName: "jane"}
	hc, err := rest.HTTPClientFor(jane)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(jane.Host + "/openid/v1/jwks")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("jane read the key set: %d", resp.StatusCode)
	}
}
