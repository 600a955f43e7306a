package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strconv"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"k8s.io/apimachinery/pkg/types"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// Exec implements runtime.Runtime: the command runs as an extra process of
// the container's task, with the container's environment and user.
func (r *Runtime) Exec(ctx context.Context, uid types.UID, name string, req kruntime.ExecRequest) (int, error) {
	ctx = r.ns(ctx)
	task, c, err := r.runningTask(ctx, uid, name)
	if err != nil {
		return 0, err
	}
	spec, err := c.Spec(ctx)
	if err != nil {
		return 0, err
	}
	pspec := *spec.Process
	pspec.Args = req.Cmd
	pspec.Terminal = req.TTY
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	execID := "exec-" + hex.EncodeToString(id)

	var stdin io.Reader
	eofc := make(chan struct{})
	if req.Stdin != nil {
		stdin = &eofReader{r: req.Stdin, onEOF: func() { close(eofc) }}
	}
	stdout, stderr := req.Stdout, req.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	opts := []cio.Opt{cio.WithStreams(stdin, stdout, stderr)}
	if req.TTY {
		opts = append(opts, cio.WithTerminal)
	}
	proc, err := task.Exec(ctx, execID, &pspec, cio.NewCreator(opts...))
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", name, err)
	}
	defer func() { _, _ = proc.Delete(context.WithoutCancel(ctx), containerd.WithProcessKill) }()
	statusc, err := proc.Wait(ctx)
	if err != nil {
		return 0, err
	}
	if err := proc.Start(ctx); err != nil {
		return 0, fmt.Errorf("exec in %s: %w", name, err)
	}
	if stdin != nil {
		go func() {
			select {
			case <-eofc:
				_ = proc.CloseIO(ctx, containerd.WithStdinCloser)
			case <-ctx.Done():
			}
		}()
	}
	if req.Resize != nil {
		go func() {
			for size := range req.Resize {
				_ = proc.Resize(ctx, uint32(size.Width), uint32(size.Height))
			}
		}()
	}
	select {
	case st := <-statusc:
		// Wait for the output to be copied before reporting the end.
		proc.IO().Wait()
		code, _, err := st.Result()
		return int(code), err
	case <-ctx.Done():
		_ = proc.Kill(context.WithoutCancel(ctx), 9)
		return 0, ctx.Err()
	}
}

// eofReader calls onEOF once when the client's input ends, so the process
// sees EOF on its stdin (e.g. `kubectl exec -i ... -- cat`).
type eofReader struct {
	r     io.Reader
	onEOF func()
	done  bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF && !e.done {
		e.done = true
		e.onEOF()
	}
	return n, err
}

// runningTask finds the task of the latest running attempt of a container.
func (r *Runtime) runningTask(ctx context.Context, uid types.UID, name string) (containerd.Task, containerd.Container, error) {
	c, err := r.latestAttempt(ctx, uid, name)
	if err != nil {
		return nil, nil, err
	}
	t, err := c.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil, nil, fmt.Errorf("container %q is not running", name)
	}
	if err != nil {
		return nil, nil, err
	}
	return t, c, nil
}

// latestAttempt is the containerd container of the container's latest
// attempt.
func (r *Runtime) latestAttempt(ctx context.Context, uid types.UID, name string) (containerd.Container, error) {
	cs, err := r.client.Containers(ctx, containerFilter(uid, name))
	if err != nil {
		return nil, err
	}
	best := -1
	var bestC containerd.Container
	for _, c := range cs {
		l, err := c.Labels(ctx)
		if err != nil {
			continue
		}
		if a, _ := strconv.Atoi(l[LabelAttempt]); a > best {
			best, bestC = a, c
		}
	}
	if bestC == nil {
		return nil, fmt.Errorf("container %q not found", name)
	}
	return bestC, nil
}
