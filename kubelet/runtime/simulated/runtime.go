package simulated

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// Annotations a pod sets to make its simulated containers exit.
const (
	AnnotationExitCode   = "simulated.kubeseed.io/exit-code"
	AnnotationRunSeconds = "simulated.kubeseed.io/run-seconds"
)

// Config configures the simulated runtime.
type Config struct {
	// StartDelay is how long a started container stays Created before it
	// counts as running.
	StartDelay time.Duration
	// PodCIDR is where pod addresses come from.
	PodCIDR string
	// Notify is told when a container changes state on its own.
	Notify kruntime.Notifier
}

type container struct {
	kruntime.Container
	runningAt time.Time
	exitAt    time.Time
	exitCode  int32
}

// Runtime is the in-memory runtime.
type Runtime struct {
	cfg Config

	mu     sync.Mutex
	base   net.IP
	size   int
	next   int
	free   []net.IP
	pods   map[types.UID]*kruntime.Sandbox
	ctrs   map[types.UID][]*container
	timers map[types.UID][]*time.Timer
}

var _ kruntime.Runtime = (*Runtime)(nil)

// New returns a simulated runtime.
func New(cfg Config) (*Runtime, error) {
	_, ipnet, err := net.ParseCIDR(cfg.PodCIDR)
	if err != nil {
		return nil, fmt.Errorf("pod CIDR %q: %w", cfg.PodCIDR, err)
	}
	ones, bits := ipnet.Mask.Size()
	if ipnet.IP.To4() == nil || bits-ones < 2 {
		return nil, fmt.Errorf("pod CIDR %q: need an IPv4 range of at least 4 addresses", cfg.PodCIDR)
	}
	return &Runtime{
		cfg: cfg, base: ipnet.IP.To4(), size: 1 << (bits - ones), next: 2,
		pods: map[types.UID]*kruntime.Sandbox{}, ctrs: map[types.UID][]*container{}, timers: map[types.UID][]*time.Timer{},
	}, nil
}

// Version implements runtime.Runtime.
func (r *Runtime) Version(context.Context) (string, string, error) { return "simulated", "1.0.0", nil }

// Close implements runtime.Runtime.
func (r *Runtime) Close() error { return nil }

func (r *Runtime) allocate() (net.IP, error) {
	if n := len(r.free); n > 0 {
		ip := r.free[n-1]
		r.free = r.free[:n-1]
		return ip, nil
	}
	if r.next >= r.size-1 {
		return nil, fmt.Errorf("no free address in %s", r.cfg.PodCIDR)
	}
	v := uint32(r.base[0])<<24 | uint32(r.base[1])<<16 | uint32(r.base[2])<<8 | uint32(r.base[3])
	v += uint32(r.next)
	r.next++
	return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)), nil
}

// EnsureSandbox implements runtime.Runtime.
func (r *Runtime) EnsureSandbox(_ context.Context, pod *corev1.Pod) (*kruntime.Sandbox, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sb := r.pods[pod.UID]; sb != nil {
		return sb, nil
	}
	ip, err := r.allocate()
	if err != nil {
		return nil, err
	}
	sb := &kruntime.Sandbox{IP: ip.String()}
	r.pods[pod.UID] = sb
	return sb, nil
}

// StopSandbox implements runtime.Runtime: the address returns to the pool.
func (r *Runtime) StopSandbox(_ context.Context, uid types.UID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sb := r.pods[uid]; sb != nil && sb.IP != "" {
		r.free = append(r.free, net.ParseIP(sb.IP).To4())
		sb.IP = ""
	}
	return nil
}

// RemoveSandbox implements runtime.Runtime.
func (r *Runtime) RemoveSandbox(_ context.Context, uid types.UID) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sb := r.pods[uid]; sb != nil && sb.IP != "" {
		r.free = append(r.free, net.ParseIP(sb.IP).To4())
	}
	for _, t := range r.timers[uid] {
		t.Stop()
	}
	delete(r.pods, uid)
	delete(r.ctrs, uid)
	delete(r.timers, uid)
	return nil
}

// ImageStatus implements runtime.Runtime: every image is present.
func (r *Runtime) ImageStatus(_ context.Context, image string) (kruntime.Image, error) {
	return kruntime.Image{Ref: image}, nil
}

// PullImage implements runtime.Runtime: pulls succeed at once, with or
// without credentials.
func (r *Runtime) PullImage(_ context.Context, image string, _ *kruntime.Auth) (kruntime.Image, error) {
	return kruntime.Image{Ref: image}, nil
}

// StartContainer implements runtime.Runtime.
func (r *Runtime) StartContainer(_ context.Context, req kruntime.StartRequest) error {
	now := time.Now()
	c := &container{Container: kruntime.Container{
		ID:   fmt.Sprintf("%s-%s-%d", req.Pod.UID, req.Container.Name, req.Attempt),
		Name: req.Container.Name, Attempt: req.Attempt, State: kruntime.StateCreated,
		Image: req.Container.Image, ImageRef: req.ImageRef,
	}, runningAt: now.Add(r.cfg.StartDelay)}
	if code, ok := req.Pod.Annotations[AnnotationExitCode]; ok {
		n, err := strconv.Atoi(code)
		if err != nil {
			return fmt.Errorf("annotation %s: %w", AnnotationExitCode, err)
		}
		secs, _ := strconv.ParseFloat(req.Pod.Annotations[AnnotationRunSeconds], 64)
		c.exitAt, c.exitCode = c.runningAt.Add(time.Duration(secs*float64(time.Second))), int32(n)
	}
	uid := req.Pod.UID
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ctrs[uid] = append(r.ctrs[uid], c)
	if r.cfg.Notify != nil {
		for _, at := range []time.Time{c.runningAt, c.exitAt} {
			if !at.IsZero() {
				r.timers[uid] = append(r.timers[uid], time.AfterFunc(time.Until(at), func() { r.cfg.Notify(uid) }))
			}
		}
	}
	return nil
}

// StopContainer implements runtime.Runtime: simulated processes stop at once.
func (r *Runtime) StopContainer(_ context.Context, uid types.UID, name string, _ time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for _, c := range r.ctrs[uid] {
		r.advance(c, now)
		if c.Name == name && c.State != kruntime.StateExited {
			c.State, c.ExitCode, c.Reason, c.FinishedAt = kruntime.StateExited, 137, "Error", now
		}
	}
	return nil
}

func (r *Runtime) advance(c *container, now time.Time) {
	if c.State == kruntime.StateCreated && !now.Before(c.runningAt) {
		c.State, c.StartedAt = kruntime.StateRunning, c.runningAt
	}
	if c.State == kruntime.StateRunning && !c.exitAt.IsZero() && !now.Before(c.exitAt) {
		c.State, c.ExitCode, c.FinishedAt = kruntime.StateExited, c.exitCode, c.exitAt
		c.Reason = "Error"
		if c.exitCode == 0 {
			c.Reason = "Completed"
		}
	}
}

// Containers implements runtime.Runtime.
func (r *Runtime) Containers(_ context.Context, uid types.UID) ([]kruntime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	var out []kruntime.Container
	for _, c := range r.ctrs[uid] {
		r.advance(c, now)
		out = append(out, c.Container)
	}
	return out, nil
}

// Pods implements runtime.Runtime.
func (r *Runtime) Pods(context.Context) ([]types.UID, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var uids []types.UID
	for uid := range r.pods {
		uids = append(uids, uid)
	}
	return uids, nil
}

// LogPath implements runtime.Runtime: simulated containers write no logs.
func (r *Runtime) LogPath(types.UID, string, int) string { return "" }

// Exec implements runtime.Runtime: there is nothing to run commands in.
func (r *Runtime) Exec(context.Context, types.UID, string, kruntime.ExecRequest) (int, error) {
	return 0, fmt.Errorf("exec: %w (simulated containers)", kruntime.ErrNotSupported)
}

// Attach implements runtime.Runtime: there is nothing to attach to.
func (r *Runtime) Attach(context.Context, types.UID, string, kruntime.ExecRequest) error {
	return fmt.Errorf("attach: %w (simulated containers)", kruntime.ErrNotSupported)
}
