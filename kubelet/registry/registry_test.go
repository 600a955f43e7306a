package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	containerdclient "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	kimages "github.com/kubeseed/kubeseed/kubelet/images"
	"github.com/kubeseed/kubeseed/kubelet/registry"
	kcontainerd "github.com/kubeseed/kubeseed/kubelet/runtime/containerd"
)

const ns = "registry-test"

// store is a containerd daemon of the test's own, with images in ns.
type store struct {
	client *containerdclient.Client
	ctx    context.Context
}

func startStore(t *testing.T) *store {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: runs containerd")
	}
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Fatal("containerd not installed: run hack/install-deps.sh")
	}
	root := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	d, err := kcontainerd.StartDaemon(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Stop)
	c, err := containerdclient.New(d.Address, containerdclient.WithDefaultNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx = namespaces.WithNamespace(ctx, ns)
	// The blobs the test writes by hand belong to no image until it names
	// them: a lease keeps the garbage collector off them.
	ctx, done, err := c.WithLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = done(namespaces.WithNamespace(context.Background(), ns)) })
	return &store{client: c, ctx: ctx}
}

// importImage imports a one-file image named name whose file holds text, as
// `kubeseed image import` does.
func (s *store) importImage(t *testing.T, name, text string) images.Image {
	t.Helper()
	var buf bytes.Buffer
	if err := kimages.WriteOCILayout(&buf, kimages.Image{Name: name, Files: []kimages.File{
		{Path: "hello.txt", Content: []byte(text)},
	}, Cmd: []string{"/hello"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := kimages.Import(s.ctx, s.client, &buf, kcontainerd.Snapshotter); err != nil {
		t.Fatal(err)
	}
	img, err := s.client.ImageService().Get(s.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// putJSON writes v as a blob of media type mt and returns its descriptor.
func (s *store) putJSON(t *testing.T, mt string, v any) ocispec.Descriptor {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	desc := ocispec.Descriptor{MediaType: mt, Digest: digest.FromBytes(b), Size: int64(len(b))}
	if err := content.WriteBlob(s.ctx, s.client.ContentStore(), desc.Digest.String(), bytes.NewReader(b), desc); err != nil {
		t.Fatal(err)
	}
	return desc
}

func (s *store) createImage(t *testing.T, name string, target ocispec.Descriptor) {
	t.Helper()
	if _, err := s.client.ImageService().Create(s.ctx, images.Image{Name: name, Target: target}); err != nil {
		t.Fatal(err)
	}
}

func startMirror(t *testing.T, s *store) *registry.Mirror {
	t.Helper()
	m, err := registry.New(registry.Config{Images: s.client.ImageService(), Content: s.client.ContentStore(), Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("mirror Run: %v", err)
		}
	})
	return m
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func request(t *testing.T, method, url string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// errorCode is the first code of a distribution error body.
func errorCode(t *testing.T, r response) string {
	t.Helper()
	var body struct {
		Errors []struct{ Code, Message string }
	}
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Errors) == 0 {
		t.Fatalf("status %d: not a distribution error body: %q", r.status, r.body)
	}
	return body.Errors[0].Code
}

func TestMirrorServesTheStoreToContainerd(t *testing.T) {
	s := startStore(t)
	hello := s.importImage(t, "docker.io/library/hello:latest", "hello\n")
	m := startMirror(t, s)

	// containerd's own resolver, configured as the node's runtime configures
	// it: hosts.toml sending docker.io to the mirror, nothing remote.
	hostsDir := t.TempDir()
	if err := registry.WriteHostsConfig(hostsDir, m.URL(), []string{"docker.io"}); err != nil {
		t.Fatal(err)
	}
	hosts := kcontainerd.RegistryHosts(s.ctx, hostsDir, false)
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: hosts})

	name, desc, err := resolver.Resolve(s.ctx, "docker.io/library/hello:latest")
	if err != nil {
		t.Fatalf("resolving by tag: %v", err)
	}
	if desc.Digest != hello.Target.Digest || desc.MediaType != ocispec.MediaTypeImageManifest || desc.Size != hello.Target.Size {
		t.Fatalf("resolved %s to %+v, want %+v", name, desc, hello.Target)
	}
	byDigest := "docker.io/library/hello@" + hello.Target.Digest.String()
	if _, d, err := resolver.Resolve(s.ctx, byDigest); err != nil || d.Digest != hello.Target.Digest {
		t.Fatalf("resolving by digest: %v (%+v)", err, d)
	}
	fetcher, err := resolver.Fetcher(s.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := fetcher.Fetch(s.ctx, desc)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	want, _ := content.ReadBlob(s.ctx, s.client.ContentStore(), hello.Target)
	if !bytes.Equal(got, want) {
		t.Fatal("fetched manifest differs from the store's")
	}
	// The config and layer blobs through containerd's fetcher.
	var manifest ocispec.Manifest
	if err := json.Unmarshal(got, &manifest); err != nil {
		t.Fatal(err)
	}
	for _, blob := range append([]ocispec.Descriptor{manifest.Config}, manifest.Layers...) {
		rc, err := fetcher.Fetch(s.ctx, blob)
		if err != nil {
			t.Fatalf("fetching blob %s: %v", blob.Digest, err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if digest.FromBytes(b) != blob.Digest {
			t.Fatalf("blob %s: fetched content has digest %s", blob.Digest, digest.FromBytes(b))
		}
	}
	if _, _, err := resolver.Resolve(s.ctx, "docker.io/library/absent:latest"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("resolving an absent image: %v, want not found", err)
	}

	// A whole pull, into another namespace (containerd shares the blobs
	// themselves across namespaces by default, so this proves resolution,
	// image creation and unpacking; the fetches are above). Leases are per
	// namespace: the pull takes its own.
	pctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pctx = namespaces.WithNamespace(pctx, ns+"-pulled")
	img, err := s.client.Pull(pctx, "docker.io/library/hello:latest", containerdclient.WithResolver(resolver),
		containerdclient.WithPullUnpack, containerdclient.WithPullSnapshotter(kcontainerd.Snapshotter))
	if err != nil {
		t.Fatalf("pulling from the mirror: %v", err)
	}
	if img.Target().Digest != hello.Target.Digest {
		t.Fatalf("pulled %s, want %s", img.Target().Digest, hello.Target.Digest)
	}
	if ok, err := img.IsUnpacked(pctx, kcontainerd.Snapshotter); err != nil || !ok {
		t.Fatalf("pulled image unpacked = %v, %v", ok, err)
	}

}

func TestMirrorHTTP(t *testing.T) {
	s := startStore(t)
	hello := s.importImage(t, "docker.io/library/hello:latest", "hello\n")
	s.importImage(t, "docker.io/library/hello:v2", "hello again\n")
	s.importImage(t, "registry.k8s.io/pause:3.10", "pause\n")
	manifest := s.mustManifest(t, hello.Target)

	// A Docker schema 2 variant of the same image, and an index holding it
	// for this platform plus a platform whose content this node lacks.
	dockerManifest := s.putJSON(t, images.MediaTypeDockerSchema2Manifest, map[string]any{
		"schemaVersion": 2, "mediaType": images.MediaTypeDockerSchema2Manifest,
		"config": ocispec.Descriptor{MediaType: images.MediaTypeDockerSchema2Config, Digest: manifest.Config.Digest, Size: manifest.Config.Size},
		"layers": []ocispec.Descriptor{{MediaType: images.MediaTypeDockerSchema2LayerGzip, Digest: manifest.Layers[0].Digest, Size: manifest.Layers[0].Size}},
	})
	s.createImage(t, "docker.io/library/hello-docker:latest", dockerManifest)
	here := hello.Target
	here.Platform = &ocispec.Platform{OS: "linux", Architecture: runtime.GOARCH}
	elsewhere := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("not here"), Size: 8,
		Platform: &ocispec.Platform{OS: "linux", Architecture: "s390x"}}
	index := s.putJSON(t, ocispec.MediaTypeImageIndex, ocispec.Index{MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{elsewhere, here}, Versioned: specs.Versioned{SchemaVersion: 2}})
	s.createImage(t, "docker.io/library/multi:latest", index)

	m := startMirror(t, s)
	base := m.URL() + "/v2/"

	if r := request(t, "GET", base); r.status != 200 || r.header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Fatalf("GET /v2/: %d %v", r.status, r.header)
	}
	if r := request(t, "HEAD", base); r.status != 200 {
		t.Fatalf("HEAD /v2/: %d", r.status)
	}

	// Manifests by tag, with and without the ns query, by digest; HEAD
	// gives the same headers and no body.
	for _, url := range []string{
		base + "library/hello/manifests/latest?ns=docker.io",
		base + "library/hello/manifests/latest",
		base + "library/hello/manifests/" + hello.Target.Digest.String() + "?ns=docker.io",
	} {
		r := request(t, "GET", url, "Accept", ocispec.MediaTypeImageManifest)
		if r.status != 200 || r.header.Get("Docker-Content-Digest") != hello.Target.Digest.String() ||
			r.header.Get("Content-Type") != ocispec.MediaTypeImageManifest || digest.FromBytes(r.body) != hello.Target.Digest {
			t.Fatalf("GET %s: %d %v", url, r.status, r.header)
		}
		h := request(t, "HEAD", url)
		if h.status != 200 || len(h.body) != 0 || h.header.Get("Content-Length") != fmt.Sprint(hello.Target.Size) ||
			h.header.Get("Docker-Content-Digest") != hello.Target.Digest.String() {
			t.Fatalf("HEAD %s: %d %v (%d body bytes)", url, h.status, h.header, len(h.body))
		}
	}
	v2 := request(t, "GET", base+"library/hello/manifests/v2?ns=docker.io")
	if v2.status != 200 || v2.header.Get("Docker-Content-Digest") == hello.Target.Digest.String() {
		t.Fatalf("tag v2: %d %v", v2.status, v2.header)
	}
	if r := request(t, "GET", base+"pause/manifests/3.10?ns=registry.k8s.io"); r.status != 200 {
		t.Fatalf("registry.k8s.io/pause:3.10: %d %s", r.status, r.body)
	}

	// Content negotiation: Docker types for Docker clients, an index's
	// manifest for clients that take no index, 404 when nothing fits.
	if r := request(t, "GET", base+"library/hello-docker/manifests/latest?ns=docker.io",
		"Accept", images.MediaTypeDockerSchema2Manifest+", "+images.MediaTypeDockerSchema2ManifestList); r.status != 200 ||
		r.header.Get("Content-Type") != images.MediaTypeDockerSchema2Manifest || r.header.Get("Docker-Content-Digest") != dockerManifest.Digest.String() {
		t.Fatalf("Docker manifest: %d %v", r.status, r.header)
	}
	if r := request(t, "GET", base+"library/hello-docker/manifests/latest?ns=docker.io", "Accept", ocispec.MediaTypeImageManifest); r.status != 404 || errorCode(t, r) != "MANIFEST_UNKNOWN" {
		t.Fatalf("Docker manifest to an OCI-only client: %d %s", r.status, r.body)
	}
	if r := request(t, "GET", base+"library/multi/manifests/latest?ns=docker.io",
		"Accept", ocispec.MediaTypeImageIndex+", "+ocispec.MediaTypeImageManifest); r.status != 200 || r.header.Get("Docker-Content-Digest") != index.Digest.String() {
		t.Fatalf("index: %d %v", r.status, r.header)
	}
	if r := request(t, "GET", base+"library/multi/manifests/latest?ns=docker.io", "Accept", ocispec.MediaTypeImageManifest); r.status != 200 ||
		r.header.Get("Docker-Content-Digest") != hello.Target.Digest.String() {
		t.Fatalf("index to a manifest-only client: %d %v %s", r.status, r.header, r.body)
	}
	if r := request(t, "GET", base+"library/multi/manifests/"+elsewhere.Digest.String()+"?ns=docker.io"); r.status != 404 || errorCode(t, r) != "MANIFEST_UNKNOWN" {
		t.Fatalf("manifest of a platform not on the node: %d %s", r.status, r.body)
	}

	// Blobs: whole, ranges, HEAD; only the repository's.
	layer := manifest.Layers[0]
	blobURL := base + "library/hello/blobs/" + layer.Digest.String() + "?ns=docker.io"
	if r := request(t, "GET", blobURL); r.status != 200 || digest.FromBytes(r.body) != layer.Digest ||
		r.header.Get("Docker-Content-Digest") != layer.Digest.String() {
		t.Fatalf("GET blob: %d %v", r.status, r.header)
	}
	if r := request(t, "GET", blobURL, "Range", "bytes=0-9"); r.status != 206 || len(r.body) != 10 {
		t.Fatalf("ranged GET blob: %d, %d bytes", r.status, len(r.body))
	}
	if r := request(t, "HEAD", blobURL); r.status != 200 || r.header.Get("Content-Length") != fmt.Sprint(layer.Size) || len(r.body) != 0 {
		t.Fatalf("HEAD blob: %d %v", r.status, r.header)
	}
	if r := request(t, "GET", base+"pause/blobs/"+layer.Digest.String()+"?ns=registry.k8s.io"); r.status != 404 || errorCode(t, r) != "BLOB_UNKNOWN" {
		t.Fatalf("blob of another repository: %d %s", r.status, r.body)
	}

	if r := request(t, "GET", base+"library/hello/tags/list?ns=docker.io"); r.status != 200 || string(r.body) != `{"name":"library/hello","tags":["latest","v2"]}` {
		t.Fatalf("tags list: %d %s", r.status, r.body)
	}

	// The distribution errors.
	for _, tc := range []struct {
		method, url string
		status      int
		code        string
	}{
		{"GET", base + "library/nothere/manifests/latest?ns=docker.io", 404, "NAME_UNKNOWN"},
		{"GET", base + "library/hello/manifests/latest?ns=registry.k8s.io", 404, "NAME_UNKNOWN"},
		{"GET", base + "library/hello/manifests/v3?ns=docker.io", 404, "MANIFEST_UNKNOWN"},
		{"GET", base + "library/hello/manifests/" + digest.FromString("x").String(), 404, "MANIFEST_UNKNOWN"},
		{"GET", base + "library/hello/blobs/" + digest.FromString("x").String(), 404, "BLOB_UNKNOWN"},
		{"GET", base + "library/nothere/blobs/" + layer.Digest.String(), 404, "NAME_UNKNOWN"},
		{"GET", base + "library/hello/blobs/sha256:nothex", 400, "DIGEST_INVALID"},
		{"GET", base + "Library/HELLO/manifests/latest", 400, "NAME_INVALID"},
		{"PUT", base + "library/hello/manifests/latest", 405, "UNSUPPORTED"},
		{"DELETE", base + "library/hello/blobs/" + layer.Digest.String(), 405, "UNSUPPORTED"},
	} {
		r := request(t, tc.method, tc.url)
		if r.status != tc.status || errorCode(t, r) != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.method, tc.url, r.status, r.body, tc.status, tc.code)
		}
	}
	if r := request(t, "HEAD", base+"library/hello/manifests/v3"); r.status != 404 || len(r.body) != 0 {
		t.Errorf("HEAD of an unknown tag: %d, %d body bytes", r.status, len(r.body))
	}
}

func (s *store) mustManifest(t *testing.T, desc ocispec.Descriptor) ocispec.Manifest {
	t.Helper()
	b, err := content.ReadBlob(s.ctx, s.client.ContentStore(), desc)
	if err != nil {
		t.Fatal(err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestWriteHostsConfig(t *testing.T) {
	dir := t.TempDir()
	user := filepath.Join(dir, "quay.io", "hosts.toml")
	if err := os.MkdirAll(filepath.Dir(user), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(user, []byte("server = \"https://quay.io\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := registry.WriteHostsConfig(dir, "http://127.0.0.1:4000", []string{"docker.io", "registry.k8s.io", "localhost:5000"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "docker.io", "hosts.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`server = "https://registry-1.docker.io"`, `[host."http://127.0.0.1:4000"]`, `capabilities = ["pull", "resolve"]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("docker.io hosts.toml lacks %s:\n%s", want, b)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "localhost_5000_", "hosts.toml")); err != nil {
		t.Errorf("host:port directory: %v", err)
	}
	// A later start with fewer registries and another port.
	if err := registry.WriteHostsConfig(dir, "http://127.0.0.1:4001", []string{"docker.io"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "docker.io", "hosts.toml")); !strings.Contains(string(b), "127.0.0.1:4001") {
		t.Errorf("docker.io not rewritten:\n%s", b)
	}
	for _, gone := range []string{"registry.k8s.io", "localhost_5000_"} {
		if _, err := os.Stat(filepath.Join(dir, gone, "hosts.toml")); !os.IsNotExist(err) {
			t.Errorf("%s kept after it left the list: %v", gone, err)
		}
	}
	if _, err := os.Stat(user); err != nil {
		t.Errorf("the user's quay.io configuration was touched: %v", err)
	}
	if err := registry.WriteHostsConfig(dir, "http://127.0.0.1:4001", []string{"not a host"}); err == nil {
		t.Error("an invalid registry name was accepted")
	}
}

func TestNewRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "localhost:0"} {
		if _, err := registry.New(registry.Config{Address: addr, Images: fakeLister{}, Content: fakeProvider{}, Namespace: ns}); err == nil {
			t.Errorf("New(%q) accepted", addr)
		}
	}
}

type fakeLister struct{}

func (fakeLister) List(context.Context, ...string) ([]images.Image, error) { return nil, nil }

type fakeProvider struct{}

func (fakeProvider) ReaderAt(context.Context, ocispec.Descriptor) (content.ReaderAt, error) {
	return nil, errdefs.ErrNotFound
}

// An image its registry gave only for credentials is not the node's to hand
// out: the mirror answers as if it did not hold it (manifest, blobs, tags),
// while the repository's other images are served, and importing the image
// makes it the node's again.
func TestMirrorHidesImagesPulledWithCredentials(t *testing.T) {
	s := startStore(t)
	public := s.importImage(t, "docker.io/acme/app:public", "public\n")
	private := s.importImage(t, "docker.io/acme/app:private", "private\n")
	private.Labels = map[string]string{registry.LabelPulledWithCredentials: "true"}
	if _, err := s.client.ImageService().Update(s.ctx, private, "labels"); err != nil {
		t.Fatal(err)
	}
	privateLayer := s.mustManifest(t, private.Target).Layers[0].Digest
	m := startMirror(t, s)
	base := m.URL() + "/v2/acme/app/"

	for _, c := range []struct{ url, code string }{
		{base + "manifests/private?ns=docker.io", "MANIFEST_UNKNOWN"},
		{base + "manifests/" + private.Target.Digest.String() + "?ns=docker.io", "MANIFEST_UNKNOWN"},
		{base + "blobs/" + privateLayer.String() + "?ns=docker.io", "BLOB_UNKNOWN"},
	} {
		if r := request(t, "GET", c.url); r.status != http.StatusNotFound || errorCode(t, r) != c.code {
			t.Errorf("GET %s: %d %s, want 404 %s", c.url, r.status, r.body, c.code)
		}
	}
	if r := request(t, "GET", base+"manifests/public?ns=docker.io"); r.status != 200 || digest.FromBytes(r.body) != public.Target.Digest {
		t.Errorf("the repository's public image: %d %s", r.status, r.body)
	}
	if r := request(t, "GET", base+"tags/list?ns=docker.io"); r.status != 200 || !strings.Contains(string(r.body), `"tags":["public"]`) {
		t.Errorf("tags list: %d %s, want only the public tag", r.status, r.body)
	}

	// Imported again (kubeseed image import), the image is the node's.
	reimported := s.importImage(t, "docker.io/acme/app:private", "private\n")
	if reimported.Labels[registry.LabelPulledWithCredentials] != "" {
		t.Fatalf("import kept the label: %v", reimported.Labels)
	}
	if r := request(t, "GET", base+"manifests/private?ns=docker.io"); r.status != 200 {
		t.Errorf("the re-imported image: %d %s", r.status, r.body)
	}
}
