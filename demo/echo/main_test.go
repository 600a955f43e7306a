package main

import (
	"bytes"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestEchoAnswersAndLogsEachRequest(t *testing.T) {
	var logs bytes.Buffer
	srv := httptest.NewServer(handler(log.New(&logs, "", log.LstdFlags)))
	defer srv.Close()

	for i := 0; i < 2; i++ {
		resp, err := srv.Client().Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "Hello Docker!!" {
			t.Errorf("body = %q, want %q", body, "Hello Docker!!")
		}
	}
	if n := strings.Count(logs.String(), "received request"); n != 2 {
		t.Errorf("logged %d requests, want 2:\n%s", n, logs.String())
	}
}

func TestPatchedVariantSaysSo(t *testing.T) {
	old := variant
	defer func() { variant = old }()
	variant = "patched"
	if g := greeting(); g != "Hello Docker!! (patched)" {
		t.Errorf("greeting = %q", g)
	}
}
