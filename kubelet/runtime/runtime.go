package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Sandbox is the pod-level environment containers join: its network
// namespace and address.
type Sandbox struct {
	// IP is the pod's address.
	IP string
	// NetNS is the path of the network namespace (empty for host network).
	NetNS string
	// Dir is the pod's directory on the node (logs, /etc files).
	Dir string
}

// State is a container's lifecycle state.
type State string

const (
	// StateCreated: the container exists but its process has not started.
	StateCreated State = "Created"
	// StateRunning: its process runs.
	StateRunning State = "Running"
	// StateExited: its process ended; ExitCode and FinishedAt are set.
	StateExited State = "Exited"
)

// Container is what a runtime knows about one attempt of one container of
// a pod. Attempts count from 0; restartCount is the latest attempt.
type Container struct {
	ID         string
	Name       string
	Attempt    int
	State      State
	Image      string
	ImageRef   string
	StartedAt  time.Time
	FinishedAt time.Time
	ExitCode   int32
	// Reason is set for exited containers: Completed, Error or OOMKilled.
	Reason string
	// Message is an optional detail of the termination.
	Message string
}

// StartRequest asks for one attempt of a container to be created and started.
type StartRequest struct {
	Pod       *corev1.Pod
	Container *corev1.Container
	Attempt   int
	Sandbox   *Sandbox
	// Env is the fully resolved environment (NAME=value).
	Env []string
	// ImageRef is what ImageStatus or PullImage returned.
	ImageRef string
	// Mounts are the container's volume mounts, resolved to host paths.
	Mounts []Mount
	// Target names a running container of the pod whose process namespace
	// this one joins (an ephemeral container's targetContainerName), so a
	// debugger sees and signals the target's processes.
	Target string
}

// Mount is a host path bind-mounted into a container.
type Mount struct {
	HostPath      string
	ContainerPath string
	ReadOnly      bool
}

// Image is an image on the node.
type Image struct {
	// Ref identifies the image in the runtime (name@digest or an ID).
	Ref string
	// Size is the image's size in bytes (its content for this platform).
	Size int64
	// Credentials are the identities (Auth.Identity) of the credentials
	// its registry gave it for, when the node pulled it with credentials
	// the registry asked for. Empty: every pod may use it (imported, or
	// pulled without credentials), as upstream's kubelet treats preloaded
	// and anonymously pulled images.
	Credentials []string
}

// Auth is one set of credentials for the registry of an image, from an
// image pull secret (as upstream's CRI AuthConfig, the username and password
// form).
type Auth struct {
	Username string
	Password string
}

// Identity tells credentials apart without holding them: pulls with
// different credentials must not share a result (one may be allowed what
// the other is not).
func (a *Auth) Identity() string {
	if a == nil {
		return ""
	}
	sum := sha256.Sum256([]byte(a.Username + "\x00" + a.Password))
	return hex.EncodeToString(sum[:])
}

// ErrImageNotPresent is returned by ImageStatus when the image is not on the
// node.
var ErrImageNotPresent = errors.New("image not present")

// Runtime runs pods. All methods are safe for concurrent use and idempotent
// where it makes sense, because pod workers retry.
type Runtime interface {
	// Version returns the runtime's name and version for the node's
	// nodeInfo, e.g. ("containerd", "1.6.20").
	Version(ctx context.Context) (name, version string, err error)
	// EnsureSandbox creates the pod's sandbox or returns the existing one.
	EnsureSandbox(ctx context.Context, pod *corev1.Pod) (*Sandbox, error)
	// StopSandbox releases the network of a pod whose containers have all
	// finished (its address returns to the pool) but keeps the exited
	// containers and logs.
	StopSandbox(ctx context.Context, uid types.UID) error
	// RemoveSandbox removes the sandbox and everything left of the pod.
	RemoveSandbox(ctx context.Context, uid types.UID) error
	// ImageStatus finds an image (as a pod spec names it) on the node, or
	// returns ErrImageNotPresent. It never contacts a registry.
	ImageStatus(ctx context.Context, image string) (Image, error)
	// PullImage fetches an image from its registry, as the node's registry
	// configuration says (the node's mirror first), and makes it ready to
	// run. It returns within a bounded time. auth, when not nil, is given to
	// the hosts of the image's registry that ask for credentials, and to no
	// other host; nil pulls anonymously.
	PullImage(ctx context.Context, image string, auth *Auth) (Image, error)
	// StartContainer creates and starts one attempt of a container.
	StartContainer(ctx context.Context, req StartRequest) error
	// StopContainer stops the running attempt of a container: SIGTERM, then
	// SIGKILL after grace.
	StopContainer(ctx context.Context, uid types.UID, name string, grace time.Duration) error
	// Containers lists every attempt the runtime still knows of the pod.
	Containers(ctx context.Context, uid types.UID) ([]Container, error)
	// LogPath is the file an attempt of a container writes its output to,
	// in the CRI log format of package logs ("" when the runtime keeps no
	// logs).
	LogPath(uid types.UID, name string, attempt int) string
	// Exec runs a command in the running attempt of a container and
	// returns its exit code.
	Exec(ctx context.Context, uid types.UID, name string, req ExecRequest) (int, error)
	// Attach connects streams to the running attempt of a container (its
	// stdin, for one started with stdin), until it exits or the client
	// leaves.
	Attach(ctx context.Context, uid types.UID, name string, req ExecRequest) error
	// Pods lists the UIDs of pods with anything left in the runtime.
	Pods(ctx context.Context) ([]types.UID, error)
	// Close releases the runtime (it does not stop containers).
	Close() error
}

// LogReads is implemented by runtimes whose attach gives a client what
// reached a container's log after the client read it. kubectl run -i and
// kubectl debug -i print the log, then attach: what the container printed in
// between would otherwise reach neither.
type LogReads interface {
	// LogRead records that a client read the log of an attempt of a
	// container up to offset (logs.Options.ReadTo).
	LogRead(uid types.UID, name string, attempt int, offset int64)
}

// TermSize is a terminal's size.
type TermSize struct{ Width, Height uint16 }

// ExecRequest is a command to run in a container with its streams.
type ExecRequest struct {
	Cmd    []string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	TTY    bool
	Resize <-chan TermSize
}

// ErrNotSupported is returned for operations a runtime cannot do.
var ErrNotSupported = errors.New("not supported by this runtime")

// Notifier is told when something about a pod changed in the runtime (a
// container exited), so its worker syncs at once instead of at the next
// periodic resync.
type Notifier func(uid types.UID)
