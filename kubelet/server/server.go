package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/kubeseed/kubeseed/kubelet/logs"
	"github.com/kubeseed/kubeseed/kubelet/podworker"
	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// Config configures the server.
type Config struct {
	// Address to listen on, e.g. ":10250" or "127.0.0.1:0".
	Address string
	// ClientCA is the PEM bundle that signs accepted client certificates.
	ClientCA []byte
	// NodeName and NodeIP go into the self-signed serving certificate.
	NodeName string
	NodeIP   string
	Client   kubernetes.Interface
	Runtime  kruntime.Runtime
	// Metrics serves /metrics/resource (nil: not served).
	Metrics http.Handler
}

// Server serves the node's HTTPS endpoint.
type Server struct {
	cfg      Config
	listener net.Listener
	srv      *http.Server
}

// New listens on cfg.Address (so the port is known before the node
// registers) with a self-signed serving certificate.
func New(cfg Config) (*Server, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(cfg.ClientCA) {
		return nil, errors.New("server: client CA holds no certificate")
	}
	cert, err := selfSigned(cfg.NodeName, cfg.NodeIP)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("server: listening on %s: %w", cfg.Address, err)
	}
	s := &Server{cfg: cfg, listener: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.containerLogs)
	for _, p := range []string{"/exec/{namespace}/{pod}/{container}", "/exec/{namespace}/{pod}/{uid}/{container}"} {
		mux.HandleFunc("GET "+p, s.exec)
		mux.HandleFunc("POST "+p, s.exec)
	}
	for _, p := range []string{"/attach/{namespace}/{pod}/{container}", "/attach/{namespace}/{pod}/{uid}/{container}"} {
		mux.HandleFunc("GET "+p, s.attach)
		mux.HandleFunc("POST "+p, s.attach)
	}
	if cfg.Metrics != nil {
		mux.Handle("GET /metrics/resource", cfg.Metrics)
	}
	for _, p := range []string{"/portForward/{namespace}/{pod}", "/portForward/{namespace}/{pod}/{uid}"} {
		mux.HandleFunc("GET "+p, s.portForward)
		mux.HandleFunc("POST "+p, s.portForward)
	}
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			ClientCAs:    pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			MinVersion:   tls.VersionTLS12,
		},
	}
	return s, nil
}

// Port is the port the server listens on.
func (s *Server) Port() int32 { return int32(s.listener.Addr().(*net.TCPAddr).Port) }

// Run serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.srv.Shutdown(sctx)
	}()
	s.srv.BaseContext = func(net.Listener) context.Context { return ctx }
	err := s.srv.ServeTLS(s.listener, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

func selfSigned(nodeName, nodeIP string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: nodeName + "@" + strconv.FormatInt(time.Now().Unix(), 10)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{nodeName, "localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	if ip := net.ParseIP(nodeIP); ip != nil {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// parseLogOptions reads the query of a log request (upstream's
// PodLogOptions parameters) into the reader's options; now is the time
// sinceSeconds counts back from.
func parseLogOptions(q url.Values, now time.Time) (opts logs.Options, previous bool, stream string, err error) {
	opts.Follow = q.Get("follow") == "true"
	opts.Timestamps = q.Get("timestamps") == "true"
	previous = q.Get("previous") == "true"
	for k, dst := range map[string]**int64{"tailLines": &opts.TailLines, "limitBytes": &opts.LimitBytes, "sinceSeconds": nil} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		n, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || n < 0 || (k != "tailLines" && n == 0) {
			return opts, false, "", fmt.Errorf("invalid %s %q", k, v)
		}
		if dst == nil {
			opts.Since = now.Add(-time.Duration(n) * time.Second)
			continue
		}
		*dst = &n
	}
	if v := q.Get("sinceTime"); v != "" {
		t, perr := time.Parse(time.RFC3339, v)
		if perr != nil {
			return opts, false, "", fmt.Errorf("invalid sinceTime %q", v)
		}
		// As upstream: the later of the two, were both given.
		if t.After(opts.Since) {
			opts.Since = t
		}
	}
	stream = q.Get("stream")
	switch stream {
	case "", corev1.LogStreamAll, corev1.LogStreamStdout, corev1.LogStreamStderr:
	default:
		return opts, false, "", fmt.Errorf("invalid stream type %q", stream)
	}
	return opts, previous, stream, nil
}

func httpError(w http.ResponseWriter, code int, format string, args ...any) {
	http.Error(w, fmt.Sprintf(format, args...), code)
}

func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ns, podName, name := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	opts, previous, stream, err := parseLogOptions(r.URL.Query(), time.Now())
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	pod, err := s.cfg.Client.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		httpError(w, http.StatusNotFound, "pod %s/%s not found", ns, podName)
		return
	}
	if err != nil {
		httpError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if !hasContainer(pod, name) {
		httpError(w, http.StatusBadRequest, "container %s is not valid for pod %s", name, podName)
		return
	}
	ctrs, err := s.cfg.Runtime.Containers(ctx, pod.UID)
	if err != nil {
		httpError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	latest, prev := podworker.Attempts(ctrs)
	c := latest[name]
	if previous {
		c = prev[name]
		if c == nil {
			httpError(w, http.StatusBadRequest, "previous terminated container %q in pod %q not found", name, podName)
			return
		}
	}
	if c == nil {
		httpError(w, http.StatusBadRequest, "container %q in pod %q is waiting to start: ContainerCreating", name, podName)
		return
	}
	path := s.cfg.Runtime.LogPath(pod.UID, name, c.Attempt)
	if path == "" {
		httpError(w, http.StatusNotFound, "the %s runtime keeps no logs", "simulated")
		return
	}
	if _, err := os.Stat(path); err != nil {
		httpError(w, http.StatusNotFound, "log of container %q: %v", name, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	out := io.Writer(w)
	if opts.Follow {
		// Each line as it comes, not when a buffer fills.
		if f, ok := w.(http.Flusher); ok {
			out = flushWriter{w, f}
		}
		uid, attempt := pod.UID, c.Attempt
		opts.Running = func() bool { return s.running(ctx, uid, name, attempt) }
	}
	if m, ok := s.cfg.Runtime.(kruntime.LogReads); ok && !opts.Follow && !previous {
		// kubectl run -i and debug -i read the log, then attach: the attach
		// gets what reached the log after this read.
		uid, attempt := pod.UID, c.Attempt
		opts.ReadTo = func(offset int64) { m.LogRead(uid, name, attempt, offset) }
	}
	stdout, stderr := out, out
	switch stream {
	case corev1.LogStreamStdout:
		stderr = nil
	case corev1.LogStreamStderr:
		stdout = nil
	}
	if err := logs.ReadLogs(ctx, path, opts, stdout, stderr); err != nil {
		klog.FromContext(ctx).V(2).Info("Reading a container log", "pod", klog.KObj(pod), "container", name, "err", err)
	}
}

// flushWriter sends each write to the client at once.
type flushWriter struct {
	w io.Writer
	f http.Flusher
}

func (fw flushWriter) Write(p []byte) (int, error) {
	n, err := fw.w.Write(p)
	fw.f.Flush()
	return n, err
}

// running tells whether an attempt of a container still runs (a follow
// ends once it does not).
func (s *Server) running(ctx context.Context, uid types.UID, name string, attempt int) bool {
	ctrs, err := s.cfg.Runtime.Containers(ctx, uid)
	if err != nil {
		klog.FromContext(ctx).V(4).Info("Listing containers for log follow", "err", err)
		return false
	}
	for _, c := range ctrs {
		if c.Name == name && c.Attempt == attempt {
			return c.State == kruntime.StateRunning
		}
	}
	return false
}

func hasContainer(pod *corev1.Pod, name string) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}
