package apiserver_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	apiregistrationclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"
	"k8s.io/utils/ptr"
)

// TestAggregatedAPIServerTrustsTheFrontProxy runs what an operator author's
// aggregated API server does with k8s.io/apiserver's delegating
// authentication: it reads kube-system/extension-apiserver-authentication,
// accepts only client certificates of its requestheader CA with an allowed
// name, and takes the user from the identity headers. A request through the
// aggregator reaches it as the user who made it.
func TestAggregatedAPIServerTrustsTheFrontProxy(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	var cm *corev1.ConfigMap
	waitFor(t, 30*time.Second, "extension-apiserver-authentication", func() error {
		var err error
		cm, err = s.client.CoreV1().ConfigMaps("kube-system").Get(ctx, "extension-apiserver-authentication", metav1.GetOptions{})
		return err
	})
	lists := map[string][]string{}
	for _, key := range []string{"requestheader-allowed-names", "requestheader-username-headers", "requestheader-uid-headers",
		"requestheader-group-headers", "requestheader-extra-headers-prefix"} {
		var l []string
		if err := json.Unmarshal([]byte(cm.Data[key]), &l); err != nil {
			t.Fatalf("%s: %q: %v", key, cm.Data[key], err)
		}
		lists[key] = l
	}
	want := map[string][]string{"requestheader-allowed-names": {"front-proxy-client"}, "requestheader-username-headers": {"X-Remote-User"},
		"requestheader-uid-headers": {"X-Remote-Uid"}, "requestheader-group-headers": {"X-Remote-Group"}, "requestheader-extra-headers-prefix": {"X-Remote-Extra-"}}
	if fmt.Sprint(lists) != fmt.Sprint(want) {
		t.Errorf("request header settings %v, want %v", lists, want)
	}
	frontProxyCAs, clientCAs := x509.NewCertPool(), x509.NewCertPool()
	if !frontProxyCAs.AppendCertsFromPEM([]byte(cm.Data["requestheader-client-ca-file"])) || !clientCAs.AppendCertsFromPEM([]byte(cm.Data["client-ca-file"])) {
		t.Fatalf("CA bundles do not parse: %v", cm.Data)
	}

	// The aggregated server: TLS that asks for a client certificate, and
	// the identity headers trusted only from the front proxy.
	type seen struct{ cn, user, groups string }
	var mu sync.Mutex
	var requests []seen
	const gv = "wardle.example.com/v1"
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusUnauthorized)
			return
		}
		peer := r.TLS.PeerCertificates[0]
		if _, err := peer.Verify(x509.VerifyOptions{Roots: frontProxyCAs, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil || peer.Subject.CommonName != lists["requestheader-allowed-names"][0] {
			http.Error(w, fmt.Sprintf("not the front proxy: %s (%v)", peer.Subject.CommonName, err), http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/apis/" + gv:
			_ = json.NewEncoder(w).Encode(metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv,
				APIResources: []metav1.APIResource{{Name: "flunders", Namespaced: true, Kind: "Flunder", Verbs: []string{"get", "list"}}}})
		case "/apis/" + gv + "/namespaces/default/flunders":
			// Only the user's requests: the aggregator's availability
			// checks ask for the group version, as the aggregator.
			mu.Lock()
			requests = append(requests, seen{peer.Subject.CommonName, r.Header.Get("X-Remote-User"), fmt.Sprint(r.Header.Values("X-Remote-Group"))})
			mu.Unlock()
			_, _ = fmt.Fprintf(w, `{"kind":"FlunderList","apiVersion":%q,"metadata":{},"items":[]}`, gv)
		default:
			http.NotFound(w, r)
		}
	}))
	backend.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	backend.StartTLS()
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	port, _ := strconv.Atoi(u.Port())

	// Registered as operators do: a Service (here an ExternalName for this
	// machine, as no service proxy runs in this test) and an APIService.
	if _, err := s.client.CoreV1().Services("default").Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "wardle"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost",
			Ports: []corev1.ServicePort{{Port: int32(port)}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.client.CoreV1().Services("default").Delete(ctx, "wardle", metav1.DeleteOptions{}) })
	reg := apiregistrationclient.NewForConfigOrDie(s.config)
	if _, err := reg.ApiregistrationV1().APIServices().Create(ctx, &apiregistrationv1.APIService{ObjectMeta: metav1.ObjectMeta{Name: "v1.wardle.example.com"},
		Spec: apiregistrationv1.APIServiceSpec{Group: "wardle.example.com", Version: "v1", InsecureSkipTLSVerify: true,
			Service:              &apiregistrationv1.ServiceReference{Namespace: "default", Name: "wardle", Port: ptr.To(int32(port))},
			GroupPriorityMinimum: 1000, VersionPriority: 15}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = reg.ApiregistrationV1().APIServices().Delete(ctx, "v1.wardle.example.com", metav1.DeleteOptions{})
	})
	waitFor(t, 30*time.Second, "the aggregated list", func() error {
		body, err := s.client.CoreV1().RESTClient().Get().AbsPath("/apis/" + gv + "/namespaces/default/flunders").DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("%v: %s", err, body)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	if len(requests) == 0 {
		t.Fatal("the list answered, but not from the aggregated server")
	}
	last := requests[len(requests)-1]
	if last.cn != "front-proxy-client" || last.user != "kubernetes-admin" || last.groups != "[system:masters system:authenticated]" {
		t.Errorf("the aggregated server saw %+v, want the front proxy's certificate carrying kubernetes-admin", last)
	}
}
