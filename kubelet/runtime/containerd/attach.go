package containerd

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"k8s.io/apimachinery/pkg/types"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// attachable is the I/O of a container started with stdin or tty: the
// agent holds its stdin and fans its output out to the log file and to
// attached clients. It lives in the agent's memory, so a container with
// stdin loses it when the agent restarts (its log keeps working only while
// the agent runs); containers without stdin/tty write their log directly
// through the shim and are not affected.
type attachable struct {
	stdin     *io.PipeWriter
	stdinOnce bool
	tty       bool
	log       *os.File

	mu      sync.Mutex
	clients map[io.Writer]chan struct{}
	used    bool
	// closed is closed once the container exited and all its output
	// reached the log and the attached clients.
	closed chan struct{}
}

func (a *attachable) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, _ = a.log.Write(p)
	for w, gone := range a.clients {
		if _, err := w.Write(p); err != nil {
			close(gone)
			delete(a.clients, w)
		}
	}
	return len(p), nil
}

func (a *attachable) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for w, gone := range a.clients {
		close(gone)
		delete(a.clients, w)
	}
	_ = a.log.Close()
	if a.stdin != nil {
		_ = a.stdin.Close()
	}
	close(a.closed)
}

// attachableIO builds the I/O of an interactive container.
func (r *Runtime) attachableIO(id, logPath string, stdin, stdinOnce, tty bool) (cio.Creator, *attachable, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, err
	}
	a := &attachable{log: f, tty: tty, stdinOnce: stdinOnce, clients: map[io.Writer]chan struct{}{}, closed: make(chan struct{})}
	var in io.Reader
	if stdin {
		pr, pw := io.Pipe()
		in, a.stdin = pr, pw
	}
	opts := []cio.Opt{cio.WithStreams(in, a, a)}
	if tty {
		opts = append(opts, cio.WithTerminal)
	}
	r.mu.Lock()
	r.attached[id] = a
	r.mu.Unlock()
	return cio.NewCreator(opts...), a, nil
}

func (r *Runtime) forgetAttachable(id string) {
	r.mu.Lock()
	a := r.attached[id]
	delete(r.attached, id)
	r.mu.Unlock()
	if a != nil {
		a.close()
	}
}

// Attach implements runtime.Runtime: the client's input goes to the
// container's stdin and it receives the output from now on, until the
// container exits and its last output is delivered, or the client leaves
// (with stdinOnce, its leaving closes the container's stdin, as upstream).
//
// Attaching to an attempt that has already exited succeeds with nothing to
// stream: its output is all in the log, which kubectl run -i has just
// printed before attaching. Refusing would send kubectl to its fallback,
// printing the log again "since" a time the API rounds down to the
// second, which repeats the output of a program that exits at once.
func (r *Runtime) Attach(ctx context.Context, uid types.UID, name string, req kruntime.ExecRequest) error {
	ctx = r.ns(ctx)
	c, err := r.latestAttempt(ctx, uid, name)
	if err != nil {
		return err
	}
	task, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil // exited, and its task is already deleted
	}
	if err != nil {
		return err
	}
	// The agent drops a container's attachable I/O only after it exited:
	// look it up first, so a container exiting meanwhile is seen as such.
	r.mu.Lock()
	a := r.attached[c.ID()]
	r.mu.Unlock()
	if a == nil {
		st, err := task.Status(ctx)
		if errdefs.IsNotFound(err) || (err == nil && st.Status == containerd.Stopped) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("container %s was not started with stdin or tty (or the agent restarted since)", name)
	}
	gone := make(chan struct{})
	if req.Stdout != nil {
		a.mu.Lock()
		select {
		case <-a.closed:
			// Exited and drained since the lookup.
			a.mu.Unlock()
			return nil
		default:
		}
		a.clients[req.Stdout] = gone
		a.mu.Unlock()
		defer func() {
			a.mu.Lock()
			if _, ok := a.clients[req.Stdout]; ok {
				delete(a.clients, req.Stdout)
				close(gone)
			}
			a.mu.Unlock()
		}()
	}
	if req.Resize != nil {
		go func() {
			for sz := range req.Resize {
				_ = task.Resize(ctx, uint32(sz.Width), uint32(sz.Height))
			}
		}()
	}
	stdinDone := make(chan struct{})
	if req.Stdin != nil && a.stdin != nil {
		go func() {
			defer close(stdinDone)
			_, _ = io.Copy(a.stdin, req.Stdin)
			if a.stdinOnce {
				// The shim keeps the stdin fifo open: tell it the input
				// ended so the process reads EOF.
				_ = a.stdin.Close()
				_ = task.CloseIO(ctx, containerd.WithStdinCloser)
			}
		}()
	}
	select {
	case <-a.closed:
	case <-ctx.Done():
	case <-gone:
	case <-stdinDone:
		// The input ended: stay for the output until the container
		// exits (its stdin closed, it usually does) or the client leaves.
		select {
		case <-a.closed:
		case <-ctx.Done():
		}
	}
	return nil
}
