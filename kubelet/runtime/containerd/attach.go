package containerd

import (
	"context"
	"fmt"
	"io"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"k8s.io/apimachinery/pkg/types"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// LogRead implements runtime.LogReads.
func (r *Runtime) LogRead(uid types.UID, name string, attempt int, offset int64) {
	r.mu.Lock()
	o := r.outputs[containerID(uid, name, attempt)]
	r.mu.Unlock()
	if o != nil {
		o.markRead(offset, time.Now())
	}
}

// Attach implements runtime.Runtime: the client receives the container's
// output from now on (stdout and stderr apart unless it has no stderr
// stream) and, for a container with stdin, its input goes to the
// container's stdin, until the container exits and its last output is
// delivered, or the client leaves (with stdinOnce, its leaving closes the
// container's stdin, as upstream). The agent holds every running
// container's output (see output), also after it restarted.
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
	// The agent drops a container's output only after it exited: look it
	// up first, so a container exiting meanwhile is seen as such.
	r.mu.Lock()
	o := r.outputs[c.ID()]
	r.mu.Unlock()
	if o == nil {
		st, err := task.Status(ctx)
		if errdefs.IsNotFound(err) || (err == nil && st.Status == containerd.Stopped) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("the agent holds no output of container %s", name)
	}
	var gone chan struct{}
	if req.Stdout != nil || req.Stderr != nil {
		client := &attachClient{stdout: req.Stdout, stderr: req.Stderr, gone: make(chan struct{})}
		if client.stdout == nil {
			client.stdout = io.Discard
		}
		o.mu.Lock()
		if o.done {
			// Exited and drained since the lookup.
			o.mu.Unlock()
			return nil
		}
		o.replaySinceRead(client, time.Now())
		o.clients[client] = struct{}{}
		o.mu.Unlock()
		gone = client.gone
		defer func() {
			o.mu.Lock()
			if _, ok := o.clients[client]; ok {
				delete(o.clients, client)
				close(client.gone)
			}
			o.mu.Unlock()
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
	if req.Stdin != nil && o.stdin != nil {
		go func() {
			defer close(stdinDone)
			_, _ = io.Copy(o.stdin, req.Stdin)
			if o.stdinOnce {
				// The shim keeps the stdin fifo open: tell it the input
				// ended so the process reads EOF.
				_ = o.stdin.Close()
				_ = task.CloseIO(ctx, containerd.WithStdinCloser)
			}
		}()
	}
	select {
	case <-o.closed:
	case <-ctx.Done():
	case <-gone:
	case <-stdinDone:
		// The input ended: stay for the output until the container
		// exits (its stdin closed, it usually does) or the client leaves.
		select {
		case <-o.closed:
		case <-ctx.Done():
		}
	}
	return nil
}
