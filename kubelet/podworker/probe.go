package podworker

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// probes runs the startup, liveness and readiness probes of one running
// attempt of a container, each on its own period, and records the results
// the status reports.
type probes struct {
	id      string
	cancel  context.CancelFunc
	ready   atomic.Bool
	started atomic.Bool
	wg      sync.WaitGroup
}

// ProbeDefaults fills in upstream's defaults for unset probe fields.
func ProbeDefaults(p *corev1.Probe) corev1.Probe {
	out := *p
	if out.TimeoutSeconds == 0 {
		out.TimeoutSeconds = 1
	}
	if out.PeriodSeconds == 0 {
		out.PeriodSeconds = 10
	}
	if out.SuccessThreshold == 0 {
		out.SuccessThreshold = 1
	}
	if out.FailureThreshold == 0 {
		out.FailureThreshold = 3
	}
	return out
}

// startProbes starts the probes of a running container attempt. onChange
// is called when readiness or startup changes; kill when liveness or
// startup gives up on the container.
func startProbes(ctx context.Context, rt kruntime.Runtime, pod *corev1.Pod, c *corev1.Container, id, podIP string,
	onChange func(), unhealthy func(kind, msg string), kill func(kind string)) *probes {
	ctx, cancel := context.WithCancel(ctx)
	p := &probes{id: id, cancel: cancel}
	p.started.Store(c.StartupProbe == nil)
	p.ready.Store(c.ReadinessProbe == nil)
	run := func(kind string, probe *corev1.Probe, gated bool, onResult func(ok bool) bool) {
		if probe == nil {
			return
		}
		pr := ProbeDefaults(probe)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if !sleep(ctx, time.Duration(pr.InitialDelaySeconds)*time.Second) {
				return
			}
			var successes, failures int32
			for {
				if !gated || p.started.Load() {
					err := runProbe(ctx, rt, pod, c, &pr, podIP)
					if ctx.Err() != nil {
						return
					}
					if err == nil {
						successes, failures = successes+1, 0
						if successes >= pr.SuccessThreshold && onResult(true) {
							return
						}
					} else {
						successes, failures = 0, failures+1
						unhealthy(kind, err.Error())
						if failures >= pr.FailureThreshold && onResult(false) {
							return
						}
					}
				}
				if !sleep(ctx, time.Duration(pr.PeriodSeconds)*time.Second) {
					return
				}
			}
		}()
	}
	run("Startup", c.StartupProbe, false, func(ok bool) bool {
		if ok {
			p.started.Store(true)
			onChange()
		} else {
			kill("startup")
		}
		return true
	})
	run("Liveness", c.LivenessProbe, true, func(ok bool) bool {
		if !ok {
			kill("liveness")
			return true
		}
		return false
	})
	run("Readiness", c.ReadinessProbe, true, func(ok bool) bool {
		if p.ready.Swap(ok) != ok {
			onChange()
		}
		return false
	})
	return p
}

func (p *probes) stop() {
	p.cancel()
	p.wg.Wait()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// resolvePort turns a named or numbered port into a number.
func resolvePort(c *corev1.Container, port intstr.IntOrString) (int, error) {
	if port.Type == intstr.Int {
		return port.IntValue(), nil
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(port.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("port %q not found in container %s", port.StrVal, c.Name)
}

// runProbe runs one probe once; nil means success.
func runProbe(ctx context.Context, rt kruntime.Runtime, pod *corev1.Pod, c *corev1.Container, p *corev1.Probe, podIP string) error {
	timeout := time.Duration(p.TimeoutSeconds) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.Exec != nil:
		var out limitedBuffer
		code, err := rt.Exec(ctx, pod.UID, c.Name, kruntime.ExecRequest{Cmd: p.Exec.Command, Stdout: &out, Stderr: &out})
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("command %q exited with %d: %s", p.Exec.Command, code, out.String())
		}
		return nil
	case p.HTTPGet != nil:
		g := p.HTTPGet
		port, err := resolvePort(c, g.Port)
		if err != nil {
			return err
		}
		host := g.Host
		if host == "" {
			host = podIP
		}
		scheme := "http"
		if g.Scheme == corev1.URISchemeHTTPS {
			scheme = "https"
		}
		u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: g.Path}
		if u.Path == "" {
			u.Path = "/"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "kube-probe/1.37")
		for _, h := range g.HTTPHeaders {
			req.Header.Set(h.Name, h.Value)
		}
		client := http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // probes do not verify, as upstream
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("Get %q: %w", u.String(), err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case p.TCPSocket != nil:
		port, err := resolvePort(c, p.TCPSocket.Port)
		if err != nil {
			return err
		}
		host := p.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("dial tcp %s:%d: %w", host, port, err)
		}
		return conn.Close()
	case p.GRPC != nil:
		conn, err := grpc.NewClient(net.JoinHostPort(podIP, strconv.Itoa(int(p.GRPC.Port))), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer conn.Close()
		service := ""
		if p.GRPC.Service != nil {
			service = *p.GRPC.Service
		}
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return fmt.Errorf("grpc health check: %w", err)
		}
		if resp.Status != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("service unhealthy (responded with %q)", resp.Status)
		}
		return nil
	}
	return fmt.Errorf("probe has no handler")
}

// limitedBuffer keeps the first 10 KiB of probe output for messages.
type limitedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 10<<10 - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
