package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubeseed/kubeseed/apiserver/pki"
)

// The ConfigMap where kube-apiserver publishes how it authenticates, for
// aggregated API servers: k8s.io/apiserver's delegating authentication
// reads it to trust client certificates of the cluster CA and the identity
// headers of requests the aggregator proxies with the front proxy's
// certificate.
const (
	authTrustNamespace = metav1.NamespaceSystem
	authTrustName      = "extension-apiserver-authentication"
)

// The identity headers the aggregator sets on a proxied request
// (client-go's transport.NewAuthProxyRoundTripper), as kubeadm configures
// kube-apiserver's --requestheader-* flags.
var (
	requestHeaderUsername    = []string{"X-Remote-User"}
	requestHeaderUID         = []string{"X-Remote-Uid"}
	requestHeaderGroup       = []string{"X-Remote-Group"}
	requestHeaderExtraPrefix = []string{"X-Remote-Extra-"}
)

// authenticationTrust is the ConfigMap's content, with upstream's keys and
// encodings (PEM bundles; JSON lists of strings).
func authenticationTrust(clientCA, frontProxyCA []byte) (map[string]string, error) {
	data := map[string]string{
		"client-ca-file":               string(clientCA),
		"requestheader-client-ca-file": string(frontProxyCA),
	}
	for key, list := range map[string][]string{
		"requestheader-allowed-names":        {pki.FrontProxyClientName},
		"requestheader-username-headers":     requestHeaderUsername,
		"requestheader-uid-headers":          requestHeaderUID,
		"requestheader-group-headers":        requestHeaderGroup,
		"requestheader-extra-headers-prefix": requestHeaderExtraPrefix,
	} {
		b, err := json.Marshal(list)
		if err != nil {
			return nil, err
		}
		data[key] = string(b)
	}
	return data, nil
}

// ensureAuthenticationTrust writes data into the ConfigMap when it differs
// (a CA renewed, or someone changed it).
func ensureAuthenticationTrust(ctx context.Context, client kubernetes.Interface, data map[string]string) error {
	cms := client.CoreV1().ConfigMaps(authTrustNamespace)
	cm, err := cms.Get(ctx, authTrustName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		cm = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: authTrustNamespace, Name: authTrustName}, Data: data}
		if _, err := cms.Create(ctx, cm, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("configmap %s/%s: %w", authTrustNamespace, authTrustName, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("configmap %s/%s: %w", authTrustNamespace, authTrustName, err)
	}
	if maps.Equal(cm.Data, data) {
		return nil
	}
	cm.Data = data
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("configmap %s/%s: %w", authTrustNamespace, authTrustName, err)
	}
	return nil
}
