package containerd

import (
	"context"
	"fmt"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubeseed/kubeseed/kubelet/images"
	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// LabelProcessHolder marks the container that holds the process namespace of
// a pod with shareProcessNamespace; its value is the pod's UID. It is not
// one of the pod's containers (it has no LabelPodUID): statuses, logs and
// metrics never show it, as upstream's pause container is not shown.
const LabelProcessHolder = "io.kubeseed.sandbox.process-holder"

// holderScript is the process namespace holder's program: as upstream's
// pause, it is the namespace's pid 1, reaps the processes the containers
// orphan (ash's wait reaps any child) and ends on SIGTERM. It runs on the
// busybox image every node imports from its host.
const holderScript = `trap "exit 0" TERM INT; while :; do sleep 2147483647 & wait; done`

// processNamespace says which PID namespace a container starts in: the
// node's for a hostPID pod, the pod's shared one for shareProcessNamespace,
// the target container's for a container that names one (kubectl debug
// --target), else a new one of its own.
func (r *Runtime) processNamespace(ctx context.Context, pod *corev1.Pod, sb *kruntime.Sandbox, target string) ([]oci.SpecOpts, error) {
	var ns string
	var err error
	switch {
	case pod.Spec.HostPID:
		return []oci.SpecOpts{oci.WithHostNamespace(specs.PIDNamespace)}, nil
	case pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace:
		ns, err = r.podProcessNamespace(ctx, pod, sb)
	case target != "":
		ns, err = r.targetProcessNamespace(ctx, pod.UID, target)
	default:
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []oci.SpecOpts{oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.PIDNamespace, Path: ns})}, nil
}

func pidNamespaceOf(t containerd.Task) string { return fmt.Sprintf("/proc/%d/ns/pid", t.Pid()) }

// targetProcessNamespace is the PID namespace of a running container of the
// pod.
func (r *Runtime) targetProcessNamespace(ctx context.Context, uid types.UID, target string) (string, error) {
	cs, err := r.client.Containers(ctx, containerFilter(uid, target))
	if err != nil {
		return "", fmt.Errorf("finding target container %s: %w", target, err)
	}
	for _, c := range cs {
		t, err := c.Task(ctx, nil)
		if err != nil {
			continue
		}
		if st, err := t.Status(ctx); err != nil || st.Status != containerd.Running {
			continue
		}
		return pidNamespaceOf(t), nil
	}
	return "", fmt.Errorf("target container %q is not running", target)
}

func holderID(uid types.UID) string { return containerID(uid, "POD", 0) }

// podProcessNamespace is the PID namespace a pod's containers share, held
// by a container of its own that outlives their restarts, started with the
// first of them (and again if it died: the containers then join a new one).
func (r *Runtime) podProcessNamespace(ctx context.Context, pod *corev1.Pod, sb *kruntime.Sandbox) (string, error) {
	id := holderID(pod.UID)
	c, err := r.client.LoadContainer(ctx, id)
	if err == nil {
		if t, err := c.Task(ctx, nil); err == nil {
			if st, err := t.Status(ctx); err == nil && st.Status == containerd.Running {
				return pidNamespaceOf(t), nil
			}
			_, _ = t.Delete(ctx, containerd.WithProcessKill)
		}
		_ = c.Delete(ctx, containerd.WithSnapshotCleanup)
	} else if !errdefs.IsNotFound(err) {
		return "", err
	}
	img, err := r.client.GetImage(ctx, images.BusyboxName)
	if err != nil {
		return "", fmt.Errorf("shareProcessNamespace needs the node's %s image (imported from the host's busybox-static): %w", images.BusyboxName, err)
	}
	if ok, err := img.IsUnpacked(ctx, Snapshotter); err == nil && !ok {
		if err := img.Unpack(ctx, Snapshotter); err != nil {
			return "", fmt.Errorf("unpacking %s: %w", images.BusyboxName, err)
		}
	}
	opts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithProcessArgs("sh", "-c", holderScript),
		oci.WithCgroup(r.podCgroup(pod.UID) + "/" + id),
	}
	if sb.NetNS != "" {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: sb.NetNS}))
	} else {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace))
	}
	c, err = r.client.NewContainer(ctx, id,
		containerd.WithImage(img),
		containerd.WithNewSnapshot(id, img),
		containerd.WithContainerLabels(map[string]string{LabelProcessHolder: string(pod.UID)}),
		containerd.WithNewSpec(opts...))
	if err != nil {
		return "", fmt.Errorf("creating the pod's process namespace holder: %w", err)
	}
	t, err := c.NewTask(ctx, cio.NullIO)
	if err == nil {
		if err = t.Start(ctx); err == nil {
			return pidNamespaceOf(t), nil
		}
		_, _ = t.Delete(ctx, containerd.WithProcessKill)
	}
	_ = c.Delete(ctx, containerd.WithSnapshotCleanup)
	return "", fmt.Errorf("starting the pod's process namespace holder: %w", err)
}

// removeProcessHolder stops and deletes a pod's process namespace holder,
// if it has one (once its containers have stopped).
func (r *Runtime) removeProcessHolder(ctx context.Context, uid types.UID) error {
	c, err := r.client.LoadContainer(ctx, holderID(uid))
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if t, err := c.Task(ctx, nil); err == nil {
		if exitc, err := t.Wait(ctx); err == nil {
			if err := t.Kill(ctx, syscall.SIGTERM); err == nil {
				select {
				case <-exitc:
				case <-time.After(2 * time.Second):
				}
			}
		}
		if _, err := t.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("deleting the process namespace holder's task: %w", err)
		}
	}
	if err := c.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("deleting the process namespace holder: %w", err)
	}
	return nil
}
