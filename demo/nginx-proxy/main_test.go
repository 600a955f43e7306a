package main

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestProxyForwardsToBackend(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "from backend "+r.URL.Path)
	}))
	defer backend.Close()

	var logs bytes.Buffer
	h, err := proxy(strings.TrimPrefix(backend.URL, "http://"), log.New(&logs, "", 0))
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(h)
	defer front.Close()

	resp, err := front.Client().Get(front.URL + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "from backend /hello" {
		t.Errorf("body = %q", body)
	}
	if !strings.Contains(logs.String(), `"GET /hello HTTP/1.1" 200`) {
		t.Errorf("access log missing the request: %q", logs.String())
	}
}

func TestProxyNeedsBackendHost(t *testing.T) {
	for _, bad := range []string{"", "://"} {
		if _, err := proxy(bad, log.New(io.Discard, "", 0)); err == nil {
			t.Errorf("BACKEND_HOST=%q accepted", bad)
		}
	}
}
