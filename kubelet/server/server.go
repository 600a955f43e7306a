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
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

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

// LogOptions are the query parameters of a log request.
type LogOptions struct {
	Follow     bool
	Previous   bool
	TailLines  *int64
	LimitBytes *int64
}

func parseLogOptions(q map[string][]string) (LogOptions, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	var o LogOptions
	o.Follow = get("follow") == "true"
	o.Previous = get("previous") == "true"
	for k, dst := range map[string]**int64{"tailLines": &o.TailLines, "limitBytes": &o.LimitBytes} {
		if v := get(k); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return o, fmt.Errorf("invalid %s %q", k, v)
			}
			*dst = &n
		}
	}
	return o, nil
}

// Tail returns the last n lines of data.
func Tail(data []byte, n int64) []byte {
	if n <= 0 {
		return nil
	}
	end := len(data)
	if end > 0 && data[end-1] == '\n' {
		end--
	}
	count := int64(0)
	for i := end - 1; i >= 0; i-- {
		if data[i] == '\n' {
			count++
			if count == n {
				return data[i+1:]
			}
		}
	}
	return data
}

func httpError(w http.ResponseWriter, code int, format string, args ...any) {
	http.Error(w, fmt.Sprintf(format, args...), code)
}

func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ns, podName, name := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	opts, err := parseLogOptions(r.URL.Query())
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
	latest, previous := podworker.Attempts(ctrs)
	c := latest[name]
	if opts.Previous {
		c = previous[name]
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
	f, err := os.Open(path)
	if err != nil {
		httpError(w, http.StatusNotFound, "log of container %q: %v", name, err)
		return
	}
	defer f.Close()
	w.Header().Set("Content-Type", "text/plain")
	out := io.Writer(w)
	var limit *limitWriter
	if opts.LimitBytes != nil {
		limit = &limitWriter{w: w, left: *opts.LimitBytes}
		out = limit
	}
	if opts.TailLines != nil {
		data, err := io.ReadAll(f)
		if err != nil {
			httpError(w, http.StatusInternalServerError, "%v", err)
			return
		}
		_, _ = out.Write(Tail(data, *opts.TailLines))
	} else if _, err := io.Copy(out, f); err != nil {
		return
	}
	if !opts.Follow || (limit != nil && limit.left <= 0) {
		return
	}
	s.follow(ctx, w, out, f, pod.UID, name, c.Attempt, limit)
}

// follow streams what the container appends to its log until it exits,
// the client goes away or the byte limit is reached.
func (s *Server) follow(ctx context.Context, w http.ResponseWriter, out io.Writer, f *os.File, uid types.UID, name string, attempt int, limit *limitWriter) {
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 32*1024)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for {
			n, err := f.Read(buf)
			if n > 0 {
				if _, werr := out.Write(buf[:n]); werr != nil || (limit != nil && limit.left <= 0) {
					return
				}
			}
			if err != nil {
				break
			}
		}
		if !s.running(ctx, uid, name, attempt) {
			// One last read for what was written just before the exit.
			_, _ = io.Copy(out, f)
			return
		}
	}
}

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
	return false
}

// limitWriter stops after limitBytes.
type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	return n, err
}
