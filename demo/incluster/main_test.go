package main

import (
	"bytes"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

func TestReportPrintsIdentityAndPods(t *testing.T) {
	var auth []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization"))
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/apis/authentication.k8s.io/v1/selfsubjectreviews":
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"kind":"SelfSubjectReview","apiVersion":"authentication.k8s.io/v1","status":{"userInfo":{"username":"system:serviceaccount:shop:default"}}}`))
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/namespaces/shop/pods":
			_, _ = w.Write([]byte(`{"kind":"PodList","apiVersion":"v1","items":[{"metadata":{"name":"web-1"},"status":{"phase":"Running"}}]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	cfg := &rest.Config{Host: srv.URL, BearerToken: "tok", TLSClientConfig: rest.TLSClientConfig{CAData: ca}}
	var out bytes.Buffer
	if err := report(t.Context(), &out, cfg, "shop"); err != nil {
		t.Fatal(err)
	}
	want := "authenticated as system:serviceaccount:shop:default\n1 pods in namespace shop:\n  web-1\tRunning\n"
	if out.String() != want {
		t.Errorf("output = %q, want %q", out.String(), want)
	}
	for _, a := range auth {
		if a != "Bearer tok" {
			t.Errorf("request with Authorization %q", a)
		}
	}
}

// Outside a pod there is nothing to find: the error says so.
func TestRunOutsideAPod(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	err := run(t.Context(), &bytes.Buffer{}, "")
	if err == nil || !strings.Contains(err.Error(), "KUBERNETES_SERVICE_HOST") {
		t.Errorf("run outside a pod = %v", err)
	}
}
