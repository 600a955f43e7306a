package serviceaccount

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
)

// Paths of service account issuer discovery (OpenID Connect), as
// kube-apiserver serves them: relying parties outside the cluster (a cloud's
// workload identity, Vault, SPIFFE) verify service account tokens with the
// keys they find there.
const (
	OpenIDConfigurationPath = "/.well-known/openid-configuration"
	JWKSPath                = "/openid/v1/jwks"
)

// KeyID is the "kid" of the tokens signed with k, upstream's: the unpadded
// base64url SHA-256 of the public key's PKIX DER.
func (k *Key) KeyID() string { return k.kid }

// jwk is one public key of a JSON Web Key Set (RFC 7517, 7518).
type jwk struct {
	Use string `json:"use"`
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Crv string `json:"crv"`
	Alg string `json:"alg"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// JWKS is the key set verifying k's tokens.
func (k *Key) JWKS() ([]byte, error) {
	// P-256 coordinates are 32 bytes, left-padded (RFC 7518 6.2.1.2).
	coord := func(b []byte) string {
		return base64.RawURLEncoding.EncodeToString(append(make([]byte, 32-len(b)), b...))
	}
	pub := k.private.PublicKey
	return json.Marshal(struct {
		Keys []jwk `json:"keys"`
	}{[]jwk{{Use: "sig", Kty: "EC", Kid: k.kid, Crv: "P-256", Alg: "ES256",
		X: coord(pub.X.Bytes()), Y: coord(pub.Y.Bytes())}}})
}

// OpenIDConfiguration is the discovery document of issuer, whose keys are
// at jwksURI, with the fields upstream's has.
func OpenIDConfiguration(issuer, jwksURI string) ([]byte, error) {
	return json.Marshal(struct {
		Issuer        string   `json:"issuer"`
		JWKSURI       string   `json:"jwks_uri"`
		ResponseTypes []string `json:"response_types_supported"`
		SubjectTypes  []string `json:"subject_types_supported"`
		SigningAlgs   []string `json:"id_token_signing_alg_values_supported"`
	}{issuer, jwksURI, []string{"id_token"}, []string{"public"}, []string{"ES256"}})
}

// DiscoveryHandler serves a discovery document or key set as upstream
// does: JSON (application/jwk-set+json for the keys), cacheable for an hour.
func DiscoveryHandler(body []byte, contentType string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
	})
}
