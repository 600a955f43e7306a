package containerd

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/opencontainers/go-digest"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

func TestRegistryHostsWithoutFallbackKeepsLoopbackOnly(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "docker.io"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "docker.io", "hosts.toml"), []byte(`server = "https://registry-1.docker.io"

[host."http://127.0.0.1:4000"]
  capabilities = ["pull", "resolve"]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hostNames := func(fallback bool, registry string) ([]string, error) {
		hs, err := RegistryHosts(ctx, dir, fallback)(registry)
		var names []string
		for _, h := range hs {
			names = append(names, h.Scheme+"://"+h.Host)
		}
		return names, err
	}

	got, err := hostNames(true, "docker.io")
	if err != nil || strings.Join(got, " ") != "http://127.0.0.1:4000 https://registry-1.docker.io" {
		t.Errorf("docker.io with fallback: %v, %v", got, err)
	}
	got, err = hostNames(false, "docker.io")
	if err != nil || strings.Join(got, " ") != "http://127.0.0.1:4000" {
		t.Errorf("docker.io without fallback: %v, %v", got, err)
	}
	// A registry with no configuration: itself, which without fallback is
	// allowed only at a loopback address.
	if got, err := hostNames(false, "quay.io"); err == nil || !strings.Contains(err.Error(), "not mirrored") {
		t.Errorf("quay.io without fallback: %v, %v", got, err)
	}
	if got, err := hostNames(false, "localhost:5000"); err == nil {
		t.Errorf("localhost:5000 without fallback (a name, not an address): %v", got)
	}
	// (https first, then http: containerd's default for a local address.)
	if got, err := hostNames(false, "127.0.0.1:5000"); err != nil || strings.Join(got, " ") != "https://127.0.0.1:5000" {
		t.Errorf("127.0.0.1:5000 without fallback: %v, %v", got, err)
	}
	if got, err := hostNames(true, "quay.io"); err != nil || strings.Join(got, " ") != "https://quay.io" {
		t.Errorf("quay.io with fallback: %v, %v", got, err)
	}
}

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1:5000": true, "127.0.0.1": true, "[::1]:5000": true, "127.1.2.3:80": true,
		"localhost:5000": false, "registry-1.docker.io": false, "10.0.0.1:5000": false, "0.0.0.0:5000": false,
	} {
		if got := isLoopback(host); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// A call joins the pull after the one in flight, never the one in flight:
// its answer is resolved after it asked.
func TestPullGroupJoinsOnlyTheNextPull(t *testing.T) {
	var g pullGroup
	var mu sync.Mutex
	pulls := 0
	release := make(chan struct{})
	started := make(chan int, 10)
	pull := func() (kruntime.Image, error) {
		mu.Lock()
		pulls++
		n := pulls
		mu.Unlock()
		started <- n
		<-release
		return kruntime.Image{Ref: fmt.Sprintf("pull-%d", n)}, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	results := make(chan string, 10)
	call := func() {
		img, err := g.do(ctx, "busybox", pull)
		if err != nil {
			t.Error(err)
		}
		results <- img.Ref
	}
	go call()
	if n := <-started; n != 1 {
		t.Fatalf("first pull is #%d", n)
	}
	// Five calls while pull 1 runs: they wait for pull 2, all of them.
	var joined sync.WaitGroup
	for range 5 {
		joined.Add(1)
		go func() { defer joined.Done(); call() }()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		g.mu.Lock()
		queued := g.images["busybox"].next != nil
		g.mu.Unlock()
		if queued || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the other four reach do as well
	release <- struct{}{}
	if got := <-results; got != "pull-1" {
		t.Fatalf("first call got %s", got)
	}
	if n := <-started; n != 2 {
		t.Fatalf("second pull is #%d", n)
	}
	close(release)
	joined.Wait()
	for range 5 {
		if got := <-results; got != "pull-2" {
			t.Errorf("a call that came during pull 1 got %s, want pull-2", got)
		}
	}
	if pulls != 2 {
		t.Errorf("%d pulls for 6 calls, want 2", pulls)
	}
	g.mu.Lock()
	left := len(g.images)
	g.mu.Unlock()
	if left != 0 {
		t.Errorf("%d images still queued", left)
	}
}

// basicAuthRegistry answers the manifest of app:latest to user:password
// only, and 401 with a Basic challenge otherwise, as a registry behind
// basic auth does. It records the Authorization headers it was sent.
func basicAuthRegistry(t *testing.T, user, password string) (*httptest.Server, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("0", 64) + `","size":2},"layers":[]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if a := r.Header.Get("Authorization"); a != "" {
			seen = append(seen, a)
		}
		mu.Unlock()
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/v2/app/manifests/latest" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Docker-Content-Digest", digest.FromBytes(manifest).String())
		w.Header().Set("Content-Length", strconv.Itoa(len(manifest)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(manifest)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
}

func writeHostsTOML(t *testing.T, dir, registry, url string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, registry), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, registry, "hosts.toml"), []byte(fmt.Sprintf(`server = "https://%s"

[host.%q]
  capabilities = ["pull", "resolve"]
`, registry, url)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The credentials of a pull go to the hosts of its image's registry that ask
// for them, and to no other host, even one that asks.
func TestPullHostsGiveCredentialsOnlyToTheImagesRegistry(t *testing.T) {
	ours, oursSaw := basicAuthRegistry(t, "alice", "s3cret")
	other, otherSaw := basicAuthRegistry(t, "bob", "other")
	dir := t.TempDir()
	writeHostsTOML(t, dir, "example.test", ours.URL)
	writeHostsTOML(t, dir, "other.test", other.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resolve := func(hosts docker.RegistryHosts, ref string) error {
		_, _, err := docker.NewResolver(docker.ResolverOptions{Hosts: hosts}).Resolve(ctx, ref)
		return err
	}

	if err := resolve(RegistryHosts(ctx, dir, false), "example.test/app:latest"); err == nil || !strings.Contains(err.Error(), "no basic auth credentials") {
		t.Errorf("anonymous: %v", err)
	}
	hosts := PullHosts(ctx, dir, false, "example.test", &kruntime.Auth{Username: "alice", Password: "s3cret"})
	if err := resolve(hosts, "example.test/app:latest"); err != nil {
		t.Fatalf("with the registry's credentials: %v", err)
	}
	if got := oursSaw(); len(got) == 0 || got[0] != "Basic YWxpY2U6czNjcmV0" {
		t.Errorf("the registry saw %q", got)
	}
	// The same hosts asked for another registry (which challenges too):
	// anonymous.
	if err := resolve(hosts, "other.test/app:latest"); err == nil || !strings.Contains(err.Error(), "no basic auth credentials") {
		t.Errorf("another registry with example.test's credentials: %v", err)
	}
	if got := otherSaw(); len(got) != 0 {
		t.Errorf("another registry was sent %q", got)
	}
	// Wrong credentials fail after the registry's answers, bounded.
	wrong := PullHosts(ctx, dir, false, "example.test", &kruntime.Auth{Username: "alice", Password: "wrong"})
	if err := resolve(wrong, "example.test/app:latest"); err == nil {
		t.Error("wrong credentials resolved")
	} else {
		t.Logf("wrong credentials: %v", err)
	}
}

// Pulls with other credentials (or none) never share a pull.
func TestPullKeysDifferByCredentials(t *testing.T) {
	alice, bob := &kruntime.Auth{Username: "alice", Password: "a"}, &kruntime.Auth{Username: "alice", Password: "b"}
	ids := map[string]bool{}
	for _, a := range []*kruntime.Auth{nil, alice, bob, {Username: "alice", Password: "a"}} {
		ids[a.Identity()] = true
	}
	if len(ids) != 3 || !ids[""] {
		t.Errorf("identities %v: want none, alice and bob", ids)
	}
	if strings.Contains(alice.Identity(), "alice") {
		t.Error("the identity holds the username")
	}
}
