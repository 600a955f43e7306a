package containerd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
