package apiserver_test

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPodLogsReachTheNode stands in for a node agent with an HTTPS server on
// upstream kubelet's log path and checks that `kubectl logs` traffic arrives
// there, authenticated with the API server's node client certificate.
func TestPodLogsReachTheNode(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	var clientCN string
	node := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.PeerCertificates) > 0 {
			clientCN = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		if r.URL.Path != "/containerLogs/default/logged/c" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "hello from c tail=%s\n", r.URL.Query().Get("tailLines"))
	}))
	node.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	node.StartTLS()
	defer node.Close()
	_, portStr, _ := net.SplitHostPort(node.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)

	n, err := s.client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "logs-node"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	if _, err := s.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pods := s.client.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, pod("logged"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.GetLogs("logged", &corev1.PodLogOptions{}).DoRaw(ctx); !apierrors.IsBadRequest(err) {
		t.Errorf("logs of an unscheduled pod: %v, want BadRequest", err)
	}
	if err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "logged"}, Target: corev1.ObjectReference{Name: "logs-node"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tail := int64(5)
	out, err := pods.GetLogs("logged", &corev1.PodLogOptions{TailLines: &tail}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "hello from c tail=5\n" {
		t.Errorf("logs = %q", out)
	}
	if clientCN != "kube-apiserver-kubelet-client" {
		t.Errorf("node saw client %q", clientCN)
	}
}
