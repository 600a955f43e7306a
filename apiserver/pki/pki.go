package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// File names under the PKI directory.
const (
	CACert            = "ca.crt"
	CAKey             = "ca.key"
	ServingCert       = "apiserver.crt"
	ServingKey        = "apiserver.key"
	AdminCert         = "admin.crt"
	AdminKey          = "admin.key"
	KubeletClientCert = "apiserver-kubelet-client.crt"
	KubeletClientKey  = "apiserver-kubelet-client.key"
	// The front proxy's own CA and the client certificate the aggregator
	// presents to aggregated API servers (kubeadm's names): those servers
	// trust the identity headers of a request only from a certificate of
	// this CA (requestheader authentication).
	FrontProxyCACert     = "front-proxy-ca.crt"
	FrontProxyCAKey      = "front-proxy-ca.key"
	FrontProxyClientCert = "front-proxy-client.crt"
	FrontProxyClientKey  = "front-proxy-client.key"
)

// FrontProxyClientName is the front proxy's client certificate's common
// name, the one name aggregated API servers are told to accept
// (requestheader-allowed-names).
const FrontProxyClientName = "front-proxy-client"

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// renewBefore makes a restart renew a leaf certificate that is about to expire.
	renewBefore = 30 * 24 * time.Hour
)

// Options says which names the serving certificate must hold.
type Options struct {
	// Dir holds the certificates and keys.
	Dir string
	// IPs and DNSNames are the serving certificate's subject alternative names.
	IPs      []net.IP
	DNSNames []string
}

// CA is a loaded certificate authority.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
}

// Ensure creates whatever is missing or stale under opts.Dir and leaves valid
// files alone, so restarts keep the same CA and clients keep working.
func Ensure(opts Options) (*CA, error) {
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating pki directory: %w", err)
	}
	ca, err := ensureCA(opts.Dir, CACert, CAKey, "kubeseed-ca")
	if err != nil {
		return nil, err
	}
	frontProxyCA, err := ensureCA(opts.Dir, FrontProxyCACert, FrontProxyCAKey, "kubeseed-front-proxy-ca")
	if err != nil {
		return nil, err
	}
	if err := ensureLeaf(frontProxyCA, filepath.Join(opts.Dir, FrontProxyClientCert), filepath.Join(opts.Dir, FrontProxyClientKey), x509.Certificate{
		Subject:     pkix.Name{CommonName: FrontProxyClientName},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, fmt.Errorf("certificate %s: %w", FrontProxyClientCert, err)
	}
	leaves := []struct {
		cert, key string
		tmpl      x509.Certificate
	}{
		{ServingCert, ServingKey, x509.Certificate{
			Subject:     pkix.Name{CommonName: "kube-apiserver"},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IPAddresses: opts.IPs,
			DNSNames:    opts.DNSNames,
		}},
		{AdminCert, AdminKey, x509.Certificate{
			Subject:     pkix.Name{CommonName: "kubernetes-admin", Organization: []string{"system:masters"}},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}},
		{KubeletClientCert, KubeletClientKey, x509.Certificate{
			Subject:     pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}},
	}
	for _, l := range leaves {
		if err := ensureLeaf(ca, filepath.Join(opts.Dir, l.cert), filepath.Join(opts.Dir, l.key), l.tmpl); err != nil {
			return nil, fmt.Errorf("certificate %s: %w", l.cert, err)
		}
	}
	return ca, nil
}

func ensureCA(dir, certName, keyName, commonName string) (*CA, error) {
	certPath, keyPath := filepath.Join(dir, certName), filepath.Join(dir, keyName)
	if cert, key, certPEM, err := load(certPath, keyPath); err == nil {
		return &CA{Cert: cert, Key: key, CertPEM: certPEM}, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("loading CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("signing CA: %w", err)
	}
	certPEM, err := write(certPath, keyPath, der, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	return &CA{Cert: cert, Key: key, CertPEM: certPEM}, nil
}

// ensureLeaf keeps an existing certificate when it is signed by ca, not close
// to expiry and carries at least the wanted names; otherwise it issues a new one.
func ensureLeaf(ca *CA, certPath, keyPath string, tmpl x509.Certificate) error {
	if cert, _, _, err := load(certPath, keyPath); err == nil && current(ca, cert, &tmpl) {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = now.Add(-time.Hour)
	tmpl.NotAfter = now.Add(leafValidity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	_, err = write(certPath, keyPath, der, key)
	return err
}

func current(ca *CA, cert *x509.Certificate, want *x509.Certificate) bool {
	if cert.CheckSignatureFrom(ca.Cert) != nil || time.Until(cert.NotAfter) < renewBefore {
		return false
	}
	if cert.Subject.CommonName != want.Subject.CommonName || !slices.Equal(cert.Subject.Organization, want.Subject.Organization) {
		return false
	}
	for _, ip := range want.IPAddresses {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false
		}
	}
	for _, name := range want.DNSNames {
		if !slices.Contains(cert.DNSNames, name) {
			return false
		}
	}
	return true
}

func load(certPath, keyPath string) (*x509.Certificate, crypto.Signer, []byte, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, nil, fmt.Errorf("%s or %s is not PEM", certPath, keyPath)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parsing %s: %w", certPath, err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parsing %s: %w", keyPath, err)
	}
	return cert, key, certPEM, nil
}

func write(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) ([]byte, error) {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", keyPath, err)
	}
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("writing %s: %w", certPath, err)
	}
	return certPEM, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	return n
}
