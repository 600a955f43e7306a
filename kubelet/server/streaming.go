package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/kubeseed/kubeseed/kubelet/network"
	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// Timeouts of streaming connections, upstream's defaults.
const (
	streamIdleTimeout     = 4 * time.Hour
	streamCreationTimeout = 30 * time.Second
)

func (s *Server) pod(w http.ResponseWriter, r *http.Request) *corev1.Pod {
	ns, name := r.PathValue("namespace"), r.PathValue("pod")
	pod, err := s.cfg.Client.CoreV1().Pods(ns).Get(r.Context(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		httpError(w, http.StatusNotFound, "pod %s/%s not found", ns, name)
		return nil
	}
	if err != nil {
		httpError(w, http.StatusInternalServerError, "%v", err)
		return nil
	}
	if uid := r.PathValue("uid"); uid != "" && types.UID(uid) != pod.UID {
		httpError(w, http.StatusNotFound, "pod %s/%s with UID %s not found", ns, name, uid)
		return nil
	}
	return pod
}

// exec serves /exec/{namespace}/{pod}/{container}?command=...: the SPDY
// and WebSocket remote command protocols come from k8s.io/cri-streaming.
func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	pod := s.pod(w, r)
	if pod == nil {
		return
	}
	container := r.PathValue("container")
	if !hasContainer(pod, container) {
		httpError(w, http.StatusBadRequest, "container %s is not valid for pod %s", container, pod.Name)
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	cmd := r.URL.Query()["command"]
	remotecommand.ServeExec(w, r, executor{s}, pod.Name, string(pod.UID), container, cmd, opts,
		streamIdleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

type executor struct{ s *Server }

// ExecInContainer implements remotecommand.Executor.
func (e executor) ExecInContainer(ctx context.Context, _ string, uid string, container string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, _ time.Duration) error {
	var sizes chan kruntime.TermSize
	if resize != nil {
		sizes = make(chan kruntime.TermSize)
		go func() {
			defer close(sizes)
			for sz := range resize {
				select {
				case sizes <- kruntime.TermSize{Width: sz.Width, Height: sz.Height}:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	req := kruntime.ExecRequest{Cmd: cmd, TTY: tty, Resize: sizes}
	if in != nil {
		req.Stdin = in
	}
	if out != nil {
		req.Stdout = out
	}
	if errw != nil {
		req.Stderr = errw
	}
	code, err := e.s.cfg.Runtime.Exec(ctx, types.UID(uid), container, req)
	if err != nil {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	return nil
}

// attach serves /attach/{namespace}/{pod}/{container} (kubectl attach and
// kubectl run -i).
func (s *Server) attach(w http.ResponseWriter, r *http.Request) {
	pod := s.pod(w, r)
	if pod == nil {
		return
	}
	container := r.PathValue("container")
	if !hasContainer(pod, container) {
		httpError(w, http.StatusBadRequest, "container %s is not valid for pod %s", container, pod.Name)
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	remotecommand.ServeAttach(w, r, attacher{s}, pod.Name, string(pod.UID), container, opts,
		streamIdleTimeout, streamCreationTimeout, remotecommand.SupportedStreamingProtocols)
}

type attacher struct{ s *Server }

// AttachContainer implements remotecommand.Attacher.
func (a attacher) AttachContainer(ctx context.Context, _ string, uid string, container string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	req := kruntime.ExecRequest{TTY: tty, Resize: termSizes(ctx, resize)}
	if in != nil {
		req.Stdin = in
	}
	if out != nil {
		req.Stdout = out
	}
	if errw != nil {
		req.Stderr = errw
	}
	return a.s.cfg.Runtime.Attach(ctx, types.UID(uid), container, req)
}

func termSizes(ctx context.Context, resize <-chan remotecommand.TerminalSize) chan kruntime.TermSize {
	if resize == nil {
		return nil
	}
	sizes := make(chan kruntime.TermSize)
	go func() {
		defer close(sizes)
		for sz := range resize {
			select {
			case sizes <- kruntime.TermSize{Width: sz.Width, Height: sz.Height}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return sizes
}

// portForward serves /portForward/{namespace}/{pod}.
func (s *Server) portForward(w http.ResponseWriter, r *http.Request) {
	pod := s.pod(w, r)
	if pod == nil {
		return
	}
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	portforward.ServePortForward(w, r, forwarder{s: s, pod: pod}, pod.Name, string(pod.UID), opts,
		streamIdleTimeout, streamCreationTimeout, portforward.SupportedProtocols)
}

type forwarder struct {
	s   *Server
	pod *corev1.Pod
}

// PortForward implements portforward.PortForwarder: it connects to the port
// on localhost inside the pod's network namespace, as upstream does, so
// ports bound to 127.0.0.1 in the pod work too.
func (f forwarder) PortForward(ctx context.Context, _ string, _ string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	sb, err := f.s.cfg.Runtime.EnsureSandbox(ctx, f.pod)
	if err != nil {
		return err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))
	var conn net.Conn
	if sb.NetNS == "" {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", addr)
	} else {
		conn, err = network.DialInNetNS(ctx, sb.NetNS, addr)
	}
	if err != nil {
		return fmt.Errorf("connecting to port %d of pod %s: %w", port, f.pod.Name, err)
	}
	defer conn.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(conn, stream); done <- struct{}{} }()
	go func() { _, _ = io.Copy(stream, conn); done <- struct{}{} }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}
