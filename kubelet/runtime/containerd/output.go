package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/kubeseed/kubeseed/kubelet/logs"
)

// output is where a container's stdout and stderr go: the agent reads them
// from the FIFOs the shim writes into (a FIFO set under the pod's
// directory) and writes the container's log in the CRI format (package
// logs), and hands them to the clients attached to it (kubectl attach,
// kubectl run -i); it also holds the container's stdin, if it has one.
//
// The agent reads the FIFOs itself, as containerd's CRI plugin does, rather
// than having the shim start a logging binary for each container
// (cio.BinaryIO): that would be one more process per container, tens of
// MiB each for this binary, and attach needs the agent to hold the FIFOs
// anyway. The cost is the agent's restart: the shim keeps the FIFOs open,
// so nothing is lost, but what a container prints while no agent reads
// waits in the pipes (their buffer is grown to pipeBufferSize) and a
// container that fills them blocks in its write until the next agent
// reattaches (reattach: containerd gives the FIFOs of running tasks back)
// and reads on; those lines are timed when they are read.
type output struct {
	log            *logs.File
	stdout, stderr io.WriteCloser
	// stdin is written to the container's stdin, which containerd's
	// copy reads from stdinReader.
	stdin       *io.PipeWriter
	stdinReader *io.PipeReader
	stdinOnce   bool

	mu sync.Mutex
	// io copies between the FIFOs and the output (set once the task
	// exists).
	io      cio.IO
	clients map[*attachClient]struct{}
	done    bool
	// closed is closed once the container exited and all its output
	// reached the log and the attached clients (or the agent stops).
	closed chan struct{}
	// logPath, readTo and readAt: a client read the log up to readTo at
	// readAt; the next client to attach within replayWindow gets what
	// reached the log since (replaySinceRead).
	logPath string
	readTo  int64
	readAt  time.Time
}

// replayWindow is how soon after reading the log a client must attach to be
// given what reached the log in between: kubectl attaches right after its
// read; a later attach starts from then on, as attach does.
const replayWindow = 10 * time.Second

// attachClient is one client attached to a container's output.
type attachClient struct {
	stdout, stderr io.Writer
	gone           chan struct{}
}

func newOutput(logPath string, stdin, stdinOnce bool) (*output, error) {
	f, err := logs.OpenFile(logPath)
	if err != nil {
		return nil, err
	}
	o := &output{log: f, stdout: f.Stream(logs.Stdout), stderr: f.Stream(logs.Stderr), stdinOnce: stdinOnce,
		clients: map[*attachClient]struct{}{}, closed: make(chan struct{}), logPath: logPath}
	if stdin {
		o.stdinReader, o.stdin = io.Pipe()
	}
	return o, nil
}

// streams returns the I/O containerd copies the FIFOs from and to.
func (o *output) streams() cio.Opt {
	var stdin io.Reader
	if o.stdinReader != nil {
		stdin = o.stdinReader
	}
	return cio.WithStreams(stdin, streamWriter{o, logs.Stdout}, streamWriter{o, logs.Stderr})
}

// streamWriter is one stream of a container's output.
type streamWriter struct {
	o      *output
	stream logs.Stream
}

// Write never fails: the container's output is drained whatever happens
// to the log (a full disk) or the clients. The log and the clients get
// each write under one lock, so a client attaching after reading the log
// gets what the log did not have, once.
func (w streamWriter) Write(p []byte) (int, error) {
	o := w.o
	o.mu.Lock()
	defer o.mu.Unlock()
	log := o.stdout
	if w.stream == logs.Stderr {
		log = o.stderr
	}
	_, _ = log.Write(p)
	for c := range o.clients {
		dst := c.stdout
		if w.stream == logs.Stderr && c.stderr != nil {
			dst = c.stderr
		}
		if _, err := dst.Write(p); err != nil {
			close(c.gone)
			delete(o.clients, c)
		}
	}
	return len(p), nil
}

// markRead records that a client read the log up to offset.
func (o *output) markRead(offset int64, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.readTo, o.readAt = offset, at
}

// replaySinceRead gives a client about to attach what reached the log after
// the latest read, if that read was within replayWindow (and no other client
// took it). The caller holds o.mu, so nothing is written meanwhile and the
// client then gets the rest live, each line once.
func (o *output) replaySinceRead(c *attachClient, now time.Time) {
	if o.readAt.IsZero() || now.Sub(o.readAt) > replayWindow {
		return
	}
	from := o.readTo
	o.readAt = time.Time{}
	stderr := c.stderr
	if stderr == nil {
		stderr = c.stdout
	}
	if err := logs.ReadLogs(context.Background(), o.logPath, logs.Options{From: from}, c.stdout, stderr); err != nil {
		klog.V(2).InfoS("Replaying a container's log to an attaching client", "log", o.logPath, "err", err)
	}
}

// finish writes the streams' last partial lines, closes the log and lets
// the attached clients go.
func (o *output) finish() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done {
		return
	}
	o.done = true
	_ = o.stdout.Close()
	_ = o.stderr.Close()
	_ = o.log.Close()
	for c := range o.clients {
		close(c.gone)
		delete(o.clients, c)
	}
	if o.stdin != nil {
		_ = o.stdin.Close()
	}
	close(o.closed)
}

// copier returns containerd's copy between the FIFOs and the output (nil
// before the task exists).
func (o *output) copier() cio.IO {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.io
}

// stopCopying ends containerd's copy between the FIFOs and the output,
// waiting (bounded) for what it already read to be written.
func (o *output) stopCopying() {
	if i := o.copier(); i != nil {
		i.Cancel()
		waitIO(i, ioDrainTimeout)
	}
}

// waitIO waits for the copies of io to end, at most timeout.
func waitIO(i cio.IO, timeout time.Duration) bool {
	drained := make(chan struct{})
	go func() { i.Wait(); close(drained) }()
	select {
	case <-drained:
		return true
	case <-time.After(timeout):
		return false
	}
}

// fifoDir holds the FIFO sets of a pod's containers.
func (r *Runtime) fifoDir(uid types.UID) string {
	return filepath.Join(r.podDir(uid), "fifo")
}

// containerIO builds the I/O of a new container: its output and the
// creator of its FIFOs.
func (r *Runtime) containerIO(id string, uid types.UID, logPath string, stdin, stdinOnce, tty bool) (cio.Creator, *output, error) {
	o, err := newOutput(logPath, stdin, stdinOnce)
	if err != nil {
		return nil, nil, err
	}
	opts := []cio.Opt{o.streams(), cio.WithFIFODir(r.fifoDir(uid))}
	if tty {
		opts = append(opts, cio.WithTerminal)
	}
	r.mu.Lock()
	r.outputs[id] = o
	r.mu.Unlock()
	return cio.NewCreator(opts...), o, nil
}

// started records the I/O of a created task.
func (r *Runtime) started(o *output, task containerd.Task) {
	i := task.IO()
	o.mu.Lock()
	o.io = i
	o.mu.Unlock()
	growPipes(i.Config())
}

// dropOutput forgets the output of a container that did not start.
func (r *Runtime) dropOutput(id string) {
	r.mu.Lock()
	o := r.outputs[id]
	delete(r.outputs, id)
	r.mu.Unlock()
	if o != nil {
		o.finish()
	}
}

// exited ends the output of a container that exited: once its output is
// drained (bounded: a process it left behind may hold the FIFOs), the log
// is complete and its FIFOs are removed.
func (r *Runtime) exited(id string) {
	r.mu.Lock()
	o := r.outputs[id]
	r.mu.Unlock()
	if o == nil {
		return
	}
	i := o.copier()
	if i != nil && !waitIO(i, ioDrainTimeout) {
		i.Cancel()
		waitIO(i, ioDrainTimeout)
	}
	o.finish()
	if i != nil {
		_ = i.Close()
	}
	r.mu.Lock()
	delete(r.outputs, id)
	r.mu.Unlock()
}

// awaitOutput waits (bounded) until the output of an exited container is
// all in its log, so that an exit is reported only with the complete log
// (`kubectl logs` of a finished pod, the last read of a follow). An output
// that nothing watches ends here.
func (r *Runtime) awaitOutput(id string) {
	r.mu.Lock()
	o, watched := r.outputs[id], r.watched[id]
	r.mu.Unlock()
	if o == nil {
		return
	}
	if !watched {
		r.exited(id)
		return
	}
	select {
	case <-o.closed:
	case <-time.After(ioDrainTimeout + time.Second):
	}
}

// pipeBufferSize is the buffer of each output FIFO: what a container may
// print while no agent reads it before its writes block (Linux's
// pipe-max-size, the most an unprivileged process may ask for).
const pipeBufferSize = 1 << 20

// growPipes grows the buffers of the output FIFOs. A pipe's size belongs
// to the pipe, which the shim keeps open, so it lasts across agents.
func growPipes(cfg cio.Config) {
	for _, p := range []string{cfg.Stdout, cfg.Stderr} {
		if p == "" || strings.Contains(p, "://") {
			continue
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, pipeBufferSize)
		_ = unix.Close(fd)
	}
}

// errNoFIFOs: a task whose output does not go through FIFOs.
var errNoFIFOs = errors.New("the task's output goes to no FIFOs")

// reattach takes back the output of the containers that run (an agent
// that restarts): containerd gives the paths of their FIFOs, which the
// shims kept open, and the log goes on where the last agent left it.
func (r *Runtime) reattach(ctx context.Context) {
	log := klog.FromContext(ctx)
	cs, err := r.client.Containers(ctx, fmt.Sprintf("labels.%q", LabelPodUID))
	if err != nil {
		log.Error(err, "Listing containers to reattach their output")
		return
	}
	for _, c := range cs {
		labels, err := c.Labels(ctx)
		if err != nil {
			continue
		}
		if _, exited := labels[labelExitCode]; exited {
			continue
		}
		t, err := c.Task(ctx, nil)
		if err != nil {
			continue
		}
		// Only a running task's FIFOs have a writer: opening those of an
		// exited one would wait forever.
		if st, err := t.Status(ctx); err != nil || (st.Status != containerd.Running && st.Status != containerd.Paused) {
			continue
		}
		uid := types.UID(labels[LabelPodUID])
		attempt, _ := strconv.Atoi(labels[LabelAttempt])
		stdin := labels[labelStdin]
		o, err := newOutput(LogPath(r.podDir(uid), labels[LabelContainerName], attempt), stdin != "", stdin == "once")
		if err != nil {
			log.Error(err, "Reopening a container's log", "container", c.ID())
			continue
		}
		attach := cio.NewAttach(o.streams())
		task, err := c.Task(ctx, func(fifos *cio.FIFOSet) (cio.IO, error) {
			if fifos == nil || strings.Contains(fifos.Stdout, "://") {
				return nil, errNoFIFOs
			}
			return attach(fifos)
		})
		if err != nil {
			o.finish()
			if !errors.Is(err, errNoFIFOs) {
				log.Error(err, "Reattaching a container's output", "container", c.ID())
			}
			continue
		}
		r.mu.Lock()
		r.outputs[c.ID()] = o
		r.mu.Unlock()
		r.started(o, task)
		if exitc, err := task.Wait(context.WithoutCancel(ctx)); err == nil {
			r.watch(c.ID(), uid, exitc)
		}
	}
}

// stopOutputs stops reading every container's output, for an agent that
// stops: the containers keep running, their FIFOs stay for the next agent.
func (r *Runtime) stopOutputs() {
	r.mu.Lock()
	r.closing = true
	outs := make([]*output, 0, len(r.outputs))
	for _, o := range r.outputs {
		outs = append(outs, o)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, o := range outs {
		wg.Go(func() {
			o.stopCopying()
			o.finish()
		})
	}
	wg.Wait()
}
