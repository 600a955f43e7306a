package containerd

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
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
}

// attachableIO builds the I/O of an interactive container.
func (r *Runtime) attachableIO(id, logPath string, stdin, stdinOnce, tty bool) (cio.Creator, *attachable, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, err
	}
	a := &attachable{log: f, tty: tty, stdinOnce: stdinOnce, clients: map[io.Writer]chan struct{}{}}
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
// container exits or the client leaves (with stdinOnce, its leaving closes
// the container's stdin, as upstream).
func (r *Runtime) Attach(ctx context.Context, uid types.UID, name string, req kruntime.ExecRequest) error {
	ctx = r.ns(ctx)
	task, c, err := r.runningTask(ctx, uid, name)
	if err != nil {
		return err
	}
	r.mu.Lock()
	a := r.attached[c.ID()]
	r.mu.Unlock()
	if a == nil {
		return fmt.Errorf("container %s was not started with stdin or tty (or the agent restarted since)", name)
	}
	exitc, err := task.Wait(ctx)
	if err != nil {
		return err
	}
	gone := make(chan struct{})
	if req.Stdout != nil {
		a.mu.Lock()
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
	case <-exitc:
	case <-ctx.Done():
	case <-gone:
	case <-stdinDone:
		if !a.stdinOnce {
			<-ctx.Done()
		} else {
			select {
			case <-exitc:
			case <-ctx.Done():
			}
		}
	}
	return nil
}
