package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"k8s.io/klog/v2"
)

// LabelPulledWithCredentials marks an image of the store that its registry
// gave only for credentials (a pod's imagePullSecrets); its value lists the
// identities of the credentials that pulled it (space-separated), which the
// node agent checks before a pod without a pull uses it. The mirror never
// serves such an image: it answers as if it did not hold it, so a pull
// without the credentials goes on to the registry and is refused there, as
// upstream's kubelet is with imagePullPolicy Always, instead of getting the
// image from the node.
const LabelPulledWithCredentials = "io.kubeseed.image.pulled-with-credentials"

// ImageLister lists the images of a containerd namespace (containerd's
// images.Store is one).
type ImageLister interface {
	List(ctx context.Context, filters ...string) ([]images.Image, error)
}

// Config configures a Mirror.
type Config struct {
	// Address is where the mirror listens, a loopback host:port (default
	// 127.0.0.1:0, an ephemeral port). Loopback only: the mirror has no
	// authentication and serves every image of the node but those labelled
	// LabelPulledWithCredentials.
	Address string
	// Images and Content are the containerd stores it serves from.
	Images  ImageLister
	Content content.Provider
	// Namespace is the containerd namespace of the images.
	Namespace string
}

// Mirror is a read-only OCI distribution server over a containerd store.
type Mirror struct {
	cfg Config
	ln  net.Listener
	srv *http.Server
}

// New checks cfg and starts listening; requests are served once Run is
// called.
func New(cfg Config) (*Mirror, error) {
	if cfg.Images == nil || cfg.Content == nil || cfg.Namespace == "" {
		return nil, errors.New("registry mirror: Images, Content and Namespace are required")
	}
	if cfg.Address == "" {
		cfg.Address = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("registry mirror address %q: %w", cfg.Address, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("registry mirror address %q: must be a loopback IP address", cfg.Address)
	}
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("registry mirror: %w", err)
	}
	m := &Mirror{cfg: cfg, ln: ln}
	m.srv = &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	return m, nil
}

// Addr is the host:port the mirror listens on.
func (m *Mirror) Addr() string { return m.ln.Addr().String() }

// URL is the mirror's base URL, as hosts.toml names it.
func (m *Mirror) URL() string { return "http://" + m.Addr() }

// Run serves until ctx ends, then lets requests in flight finish (5 s at
// most).
func (m *Mirror) Run(ctx context.Context) error {
	// Requests keep ctx's logger, not its end: Shutdown lets them finish.
	base := context.WithoutCancel(ctx)
	m.srv.BaseContext = func(net.Listener) context.Context { return base }
	errc := make(chan error, 1)
	go func() { errc <- m.srv.Serve(m.ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := m.srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = m.srv.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// ServeHTTP implements the read-only part of the distribution API.
func (m *Mirror) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, codeUnsupported, "the registry mirror is read-only", nil)
		return
	}
	p := r.URL.Path
	if p == "/v2/" || p == "/v2" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, "{}")
		}
		return
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	ctx := namespaces.WithNamespace(r.Context(), m.cfg.Namespace)
	ns := r.URL.Query().Get("ns")
	// The name may hold slashes, the reference cannot: split at the last
	// route keyword.
	if i := strings.LastIndex(rest, "/manifests/"); i > 0 {
		m.manifest(ctx, w, r, rest[:i], ns, rest[i+len("/manifests/"):])
		return
	}
	if i := strings.LastIndex(rest, "/blobs/"); i > 0 {
		m.blob(ctx, w, r, rest[:i], ns, rest[i+len("/blobs/"):])
		return
	}
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok && name != "" {
		m.tags(ctx, w, r, name, ns)
		return
	}
	http.NotFound(w, r)
}

var errInvalidName = errors.New("invalid repository name")

// repository is the images of one repository of the node.
type repository struct {
	name   reference.Named
	images []images.Image
	// tagged holds the images named name:tag, by tag.
	tagged map[string]images.Image
}

// lookup parses a repository path of a request (with the registry of the
// ns query when given) and finds its images. A nil repository with a nil
// error means none has that name.
// repositoryOr404 finds the repository a request names, or answers the
// request itself (NAME_UNKNOWN, or the lookup's failure) and returns false.
func (m *Mirror) repositoryOr404(ctx context.Context, w http.ResponseWriter, path, ns string) (*repository, bool) {
	repo, err := m.lookup(ctx, path, ns)
	if m.failed(ctx, w, path, err) {
		return nil, false
	}
	if repo == nil {
		writeError(w, http.StatusNotFound, codeNameUnknown, "repository name not known to registry", map[string]string{"name": path})
		return nil, false
	}
	return repo, true
}

func (m *Mirror) lookup(ctx context.Context, path, ns string) (*repository, error) {
	full := path
	if ns != "" {
		full = ns + "/" + path
	}
	named, err := reference.ParseNormalizedNamed(full)
	if err != nil || !reference.IsNameOnly(named) {
		return nil, fmt.Errorf("%w %q", errInvalidName, full)
	}
	all, err := m.cfg.Images.List(ctx)
	if err != nil {
		return nil, err
	}
	repo := &repository{name: named, tagged: map[string]images.Image{}}
	for _, img := range all {
		ref, err := reference.ParseNormalizedNamed(img.Name)
		if err != nil || ref.Name() != named.Name() || img.Labels[LabelPulledWithCredentials] != "" {
			continue
		}
		repo.images = append(repo.images, img)
		if t, ok := ref.(reference.Tagged); ok {
			if _, digested := ref.(reference.Digested); !digested {
				repo.tagged[t.Tag()] = img
			}
		}
	}
	if len(repo.images) == 0 {
		return nil, nil
	}
	return repo, nil
}

// find walks the repository's images for the descriptor of dgst, skipping
// content the store does not hold (the other platforms of an index).
func (m *Mirror) find(ctx context.Context, repo *repository, dgst digest.Digest) (ocispec.Descriptor, bool, error) {
	var found *ocispec.Descriptor
	errFound := errors.New("found")
	seen := map[digest.Digest]bool{}
	handler := images.HandlerFunc(func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		if seen[desc.Digest] {
			return nil, nil
		}
		seen[desc.Digest] = true
		if desc.Digest == dgst {
			found = &desc
			return nil, errFound
		}
		children, err := images.Children(ctx, m.cfg.Content, desc)
		if errdefs.IsNotFound(err) {
			return nil, nil
		}
		return children, err
	})
	for _, img := range repo.images {
		err := images.Walk(ctx, handler, img.Target)
		if errors.Is(err, errFound) {
			return *found, true, nil
		}
		if err != nil {
			return ocispec.Descriptor{}, false, err
		}
	}
	return ocispec.Descriptor{}, false, nil
}

func (m *Mirror) manifest(ctx context.Context, w http.ResponseWriter, r *http.Request, path, ns, ref string) {
	repo, ok := m.repositoryOr404(ctx, w, path, ns)
	if !ok {
		return
	}
	var desc ocispec.Descriptor
	if dgst, err := digest.Parse(ref); err == nil {
		d, ok, err := m.find(ctx, repo, dgst)
		if m.failed(ctx, w, path, err) {
			return
		}
		if !ok || !(images.IsManifestType(d.MediaType) || images.IsIndexType(d.MediaType)) {
			writeError(w, http.StatusNotFound, codeManifestUnknown, "manifest unknown", map[string]string{"name": path, "digest": ref})
			return
		}
		desc = d
	} else {
		if _, err := reference.WithTag(repo.name, ref); err != nil {
			writeError(w, http.StatusBadRequest, codeManifestInvalid, fmt.Sprintf("invalid tag or digest %q", ref), nil)
			return
		}
		img, ok := repo.tagged[ref]
		if !ok {
			writeError(w, http.StatusNotFound, codeManifestUnknown, "manifest unknown", map[string]string{"name": path, "tag": ref})
			return
		}
		desc = img.Target
	}
	desc, err := m.negotiate(ctx, desc, r.Header.Values("Accept"))
	if errors.Is(err, errNotAcceptable) {
		writeError(w, http.StatusNotFound, codeManifestUnknown, err.Error(), map[string]string{"name": path, "reference": ref})
		return
	}
	if m.failed(ctx, w, path, err) {
		return
	}
	m.serve(ctx, w, r, desc, desc.MediaType, codeManifestUnknown)
}

var errNotAcceptable = errors.New("manifest found, but the Accept header does not allow its media type")

// negotiate picks what to send for desc given the client's Accept header:
// desc itself when its media type is accepted (or nothing is said); for an
// index that the client cannot take, the manifest of this node's platform
// when the store holds it in an accepted type, as distribution serves
// manifest lists to clients that only know manifests. Digests cannot be kept
// across a conversion, so nothing is converted.
func (m *Mirror) negotiate(ctx context.Context, desc ocispec.Descriptor, accept []string) (ocispec.Descriptor, error) {
	accepted := acceptedTypes(accept)
	ok := func(mt string) bool {
		return accepted == nil || accepted["*/*"] || accepted["application/*"] || accepted[mt]
	}
	if ok(desc.MediaType) {
		return desc, nil
	}
	if images.IsIndexType(desc.MediaType) {
		children, err := images.Children(ctx, m.cfg.Content, desc)
		if err != nil {
			return ocispec.Descriptor{}, err
		}
		match := platforms.Default()
		for _, c := range children {
			if !ok(c.MediaType) || !images.IsManifestType(c.MediaType) || (c.Platform != nil && !match.Match(*c.Platform)) {
				continue
			}
			if ra, err := m.cfg.Content.ReaderAt(ctx, c); err == nil {
				ra.Close()
				return c, nil
			}
		}
	}
	return ocispec.Descriptor{}, fmt.Errorf("%w %s", errNotAcceptable, desc.MediaType)
}

// acceptedTypes parses Accept headers into the set of media types named
// (nil when none is given: anything goes).
func acceptedTypes(values []string) map[string]bool {
	var set map[string]bool
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil || params["q"] == "0" {
				continue
			}
			if set == nil {
				set = map[string]bool{}
			}
			set[mt] = true
		}
	}
	return set
}

func (m *Mirror) blob(ctx context.Context, w http.ResponseWriter, r *http.Request, path, ns, ref string) {
	dgst, err := digest.Parse(ref)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeDigestInvalid, fmt.Sprintf("invalid digest %q", ref), nil)
		return
	}
	repo, ok := m.repositoryOr404(ctx, w, path, ns)
	if !ok {
		return
	}
	// Only blobs of the repository's images are served, as a registry
	// scopes blobs by repository.
	desc, ok, err := m.find(ctx, repo, dgst)
	if m.failed(ctx, w, path, err) {
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, codeBlobUnknown, "blob unknown to registry", map[string]string{"digest": ref})
		return
	}
	m.serve(ctx, w, r, desc, "application/octet-stream", codeBlobUnknown)
}

// serve sends a blob of the content store with the distribution headers;
// http.ServeContent answers HEAD and Range requests.
func (m *Mirror) serve(ctx context.Context, w http.ResponseWriter, r *http.Request, desc ocispec.Descriptor, contentType, unknown string) {
	ra, err := m.cfg.Content.ReaderAt(ctx, desc)
	if errdefs.IsNotFound(err) {
		writeError(w, http.StatusNotFound, unknown, "not in the node's content store", map[string]string{"digest": desc.Digest.String()})
		return
	}
	if m.failed(ctx, w, r.URL.Path, err) {
		return
	}
	defer ra.Close()
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Docker-Content-Digest", desc.Digest.String())
	h.Set("ETag", `"`+desc.Digest.String()+`"`)
	http.ServeContent(w, r, "", time.Time{}, io.NewSectionReader(ra, 0, ra.Size()))
}

func (m *Mirror) tags(ctx context.Context, w http.ResponseWriter, r *http.Request, path, ns string) {
	repo, ok := m.repositoryOr404(ctx, w, path, ns)
	if !ok {
		return
	}
	tags := make([]string, 0, len(repo.tagged))
	for t := range repo.tagged {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	b, err := json.Marshal(struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{path, tags})
	if m.failed(ctx, w, path, err) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	if r.Method == http.MethodGet {
		_, _ = w.Write(b)
	}
}

// failed answers a request that hit err (an invalid name is the client's
// fault, anything else the store's) and reports whether it did.
func (m *Mirror) failed(ctx context.Context, w http.ResponseWriter, path string, err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, errInvalidName) {
		writeError(w, http.StatusBadRequest, codeNameInvalid, err.Error(), map[string]string{"name": path})
		return true
	}
	klog.FromContext(ctx).Error(err, "Registry mirror request failed", "path", path)
	writeError(w, http.StatusInternalServerError, codeUnknown, err.Error(), nil)
	return true
}
