package containerd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	apievents "github.com/containerd/containerd/api/events"
	containerd "github.com/containerd/containerd/v2/client"
	containerdimages "github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/containerd/typeurl/v2"
	"github.com/distribution/reference"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"

	"github.com/kubeseed/kubeseed/kubelet/images"
	"github.com/kubeseed/kubeseed/kubelet/network"
	"github.com/kubeseed/kubeseed/kubelet/registry"
	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// Labels on every containerd container the agent creates.
const (
	LabelPodUID        = "io.kubeseed.pod.uid"
	LabelPodNamespace  = "io.kubeseed.pod.namespace"
	LabelPodName       = "io.kubeseed.pod.name"
	LabelContainerName = "io.kubeseed.container.name"
	LabelAttempt       = "io.kubeseed.container.attempt"
	labelStartedAt     = "io.kubeseed.container.started-at"
	labelFinishedAt    = "io.kubeseed.container.finished-at"
	labelExitCode      = "io.kubeseed.container.exit-code"
	labelOOMKilled     = "io.kubeseed.container.oom-killed"
	// labelStdin is "true" for a container with stdin, "once" with
	// stdinOnce: an agent that restarts gives it its stdin back.
	labelStdin = "io.kubeseed.container.stdin"
)

// Namespace is the containerd namespace kubeseed's containers live in.
const Namespace = "kubeseed"

// Snapshotter is the snapshotter images are unpacked into.
const Snapshotter = "overlayfs"

// Config configures the containerd runtime.
type Config struct {
	// Address of a running containerd; empty starts one under RootDir.
	Address string
	// RootDir holds the daemon (when started here), pod directories and
	// network state.
	RootDir string
	// Network sets up pod namespaces.
	Network *network.Manager
	// DNS is rendered into each pod's resolv.conf.
	DNS network.DNSConfig
	// NodeIP is the address of host-network pods.
	NodeIP string
	// CgroupParent is the cgroup (v1, cgroupfs) under which pods get
	// pod<uid>/<container> cgroups, default /kubeseed.
	CgroupParent string
	// ImportDir is scanned for image tarballs at start, default
	// RootDir/images.
	ImportDir string
	// BusyboxBinary builds docker.io/library/busybox:latest when no such
	// image exists (default /bin/busybox; "-" turns it off).
	BusyboxBinary string
	// Notify is called when a container of a pod exits.
	Notify kruntime.Notifier
	// HostsDir holds containerd's registry host configuration
	// (<registry>/hosts.toml, the layout of containerd's CRI config_path),
	// default RootDir/certs.d.
	HostsDir string
	// RegistryFallback lets pulls reach registries outside this machine.
	// Off (the zero value), only hosts at loopback IP addresses are
	// contacted (the node's mirror, a registry a test runs): nothing, not
	// even a DNS query, leaves the machine.
	RegistryFallback bool
	// PullTimeout bounds one pull (default 5 min).
	PullTimeout time.Duration
}

// Runtime runs pods on containerd.
type Runtime struct {
	cfg    Config
	daemon *Daemon
	client *containerd.Client
	// hosts is where pulls go, from HostsDir.
	hosts docker.RegistryHosts
	// pulls coalesces concurrent pulls of one image.
	pulls pullGroup

	mu        sync.Mutex
	sandboxes map[types.UID]*kruntime.Sandbox
	watched   map[string]bool
	oom       map[string]bool
	// outputs holds the output of every container whose task runs.
	outputs map[string]*output
	// closing is set once Close began: exits seen from then on are the
	// connection's end, not the containers'.
	closing bool
	// startedAt holds start times until their label is written.
	startedAt map[string]time.Time
	cancel    context.CancelFunc
}

var _ kruntime.Runtime = (*Runtime)(nil)

// New connects to containerd (starting it when cfg.Address is empty),
// imports the images of ImportDir and the busybox image.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	if cfg.CgroupParent == "" {
		cfg.CgroupParent = "/kubeseed"
	}
	if cfg.ImportDir == "" {
		cfg.ImportDir = filepath.Join(cfg.RootDir, "images")
	}
	if cfg.HostsDir == "" {
		cfg.HostsDir = filepath.Join(cfg.RootDir, "certs.d")
	}
	if cfg.PullTimeout == 0 {
		cfg.PullTimeout = 5 * time.Minute
	}
	r := &Runtime{cfg: cfg, sandboxes: map[types.UID]*kruntime.Sandbox{}, watched: map[string]bool{}, oom: map[string]bool{}, outputs: map[string]*output{}, startedAt: map[string]time.Time{}}
	r.hosts = RegistryHosts(ctx, cfg.HostsDir, cfg.RegistryFallback)
	address := cfg.Address
	if address == "" {
		d, err := StartDaemon(ctx, cfg.RootDir)
		if err != nil {
			return nil, err
		}
		r.daemon, address = d, d.Address
	}
	c, err := containerd.New(address, containerd.WithDefaultNamespace(Namespace), containerd.WithTimeout(10*time.Second))
	if err != nil {
		r.daemon.Stop()
		return nil, fmt.Errorf("connecting to containerd at %s: %w", address, err)
	}
	r.client = c
	ctx = r.ns(ctx)
	evctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	go r.watchOOM(evctx)
	r.reattach(ctx)
	if _, err := c.LeasesService().Create(ctx, leases.WithID(containersLease)); err != nil && !errdefs.IsAlreadyExists(err) {
		r.Close()
		return nil, fmt.Errorf("creating the containers' lease: %w", err)
	}
	log := klog.FromContext(ctx)
	names, err := images.ImportDir(ctx, c, cfg.ImportDir, Snapshotter)
	if err != nil {
		log.Error(err, "Importing images", "dir", cfg.ImportDir)
	} else if len(names) > 0 {
		log.Info("Imported images", "dir", cfg.ImportDir, "images", names)
	}
	if cfg.BusyboxBinary != "-" {
		if done, err := images.EnsureBusybox(ctx, c, cfg.BusyboxBinary, Snapshotter); err != nil {
			log.Error(err, "Building the busybox image")
		} else if done {
			log.Info("Imported busybox image from the host", "image", images.BusyboxName)
		}
	}
	return r, nil
}

// Client returns the containerd client (for image import by the caller).
func (r *Runtime) Client() *containerd.Client { return r.client }

func (r *Runtime) ns(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, Namespace)
}

// Close stops reading the containers' output, disconnects and stops the
// daemon this runtime started; the containers keep running.
func (r *Runtime) Close() error {
	r.stopOutputs()
	r.cancel()
	err := r.client.Close()
	r.daemon.Stop()
	return err
}

// Version implements runtime.Runtime.
func (r *Runtime) Version(ctx context.Context) (string, string, error) {
	v, err := r.client.Version(r.ns(ctx))
	if err != nil {
		return "", "", err
	}
	return "containerd", v.Version, nil
}

func (r *Runtime) podDir(uid types.UID) string {
	return filepath.Join(r.cfg.RootDir, "pods", string(uid))
}

// EnsureSandbox implements runtime.Runtime.
func (r *Runtime) EnsureSandbox(ctx context.Context, pod *corev1.Pod) (*kruntime.Sandbox, error) {
	r.mu.Lock()
	sb := r.sandboxes[pod.UID]
	r.mu.Unlock()
	if sb != nil {
		return sb, nil
	}
	sb = &kruntime.Sandbox{Dir: r.podDir(pod.UID)}
	if pod.Spec.HostNetwork {
		sb.IP = r.cfg.NodeIP
	} else {
		ip, path, err := r.cfg.Network.Setup(ctx, string(pod.UID), pod.Namespace, pod.Name)
		if err != nil {
			return nil, err
		}
		sb.IP, sb.NetNS = ip.String(), path
	}
	etc := filepath.Join(sb.Dir, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return nil, err
	}
	hostname := network.Hostname(pod)
	if pod.Spec.HostNetwork {
		hostname, _ = os.Hostname()
	}
	for name, content := range map[string]string{
		"hosts":       network.HostsFile(pod, sb.IP, r.cfg.DNS.ClusterDomain),
		"hostname":    hostname + "\n",
		"resolv.conf": network.ResolvConf(pod, r.cfg.DNS),
	} {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	r.sandboxes[pod.UID] = sb
	r.mu.Unlock()
	return sb, nil
}

// StopSandbox implements runtime.Runtime.
func (r *Runtime) StopSandbox(ctx context.Context, uid types.UID) error {
	if err := r.removeProcessHolder(r.ns(ctx), uid); err != nil {
		return err
	}
	if err := r.cfg.Network.Teardown(ctx, string(uid)); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.sandboxes, uid)
	r.mu.Unlock()
	return nil
}

// RemoveSandbox implements runtime.Runtime: it kills and deletes every
// container of the pod with its snapshot, releases the network, removes the
// pod's cgroups and directory.
func (r *Runtime) RemoveSandbox(ctx context.Context, uid types.UID) error {
	ctx = r.ns(ctx)
	cs, err := r.client.Containers(ctx, podFilter(uid))
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs {
		if t, err := c.Task(ctx, nil); err == nil {
			if _, err := t.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("deleting task %s: %w", c.ID(), err))
			}
		}
		if err := c.Delete(ctx, containerd.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting container %s: %w", c.ID(), err))
		}
	}
	if err := r.removeProcessHolder(ctx, uid); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := r.cfg.Network.Teardown(ctx, string(uid)); err != nil {
		return err
	}
	if err := removeCgroups(r.podCgroup(uid)); err != nil {
		return err
	}
	r.mu.Lock()
	delete(r.sandboxes, uid)
	r.mu.Unlock()
	return os.RemoveAll(r.podDir(uid))
}

func (r *Runtime) podCgroup(uid types.UID) string {
	return filepath.Join(r.cfg.CgroupParent, "pod"+string(uid))
}

// removeCgroups removes a cgroup directory in every v1 hierarchy (runc
// leaves the parents of container cgroups behind).
func removeCgroups(path string) error {
	hier, err := filepath.Glob("/sys/fs/cgroup/*")
	if err != nil {
		return err
	}
	for _, h := range hier {
		dir := filepath.Join(h, path)
		// Children first: containers' cgroups runc did not remove.
		subs, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, s := range subs {
			if fi, err := os.Stat(s); err == nil && fi.IsDir() {
				_ = syscall.Rmdir(s)
			}
		}
		if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("removing cgroup %s: %w", dir, err)
		}
	}
	return nil
}

// NormalizeImage turns `busybox` into docker.io/library/busybox:latest, as
// image references are resolved everywhere in Kubernetes.
func NormalizeImage(image string) (string, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", fmt.Errorf("invalid image name %q: %w", image, err)
	}
	return reference.TagNameOnly(named).String(), nil
}

// ImageStatus implements runtime.Runtime: the image under its normalized
// name in containerd, unpacked (an image imported without unpacking is
// unpacked here).
func (r *Runtime) ImageStatus(ctx context.Context, image string) (kruntime.Image, error) {
	ctx = r.ns(ctx)
	name, err := NormalizeImage(image)
	if err != nil {
		return kruntime.Image{}, err
	}
	img, err := r.client.GetImage(ctx, name)
	if errdefs.IsNotFound(err) {
		return kruntime.Image{}, fmt.Errorf("%w: %s", kruntime.ErrImageNotPresent, name)
	}
	if err != nil {
		return kruntime.Image{}, err
	}
	if ok, err := img.IsUnpacked(ctx, Snapshotter); err == nil && !ok {
		if err := img.Unpack(ctx, Snapshotter); err != nil {
			return kruntime.Image{}, fmt.Errorf("unpacking %s: %w", name, err)
		}
	}
	size, _ := img.Size(ctx)
	return kruntime.Image{Ref: name + "@" + img.Target().Digest.String(), Size: size, Credentials: pulledWith(img.Labels())}, nil
}

// PullImage implements runtime.Runtime: containerd's pull (resolve, fetch
// what the content store lacks, unpack) through the resolver of hosts,
// bounded by PullTimeout. Concurrent calls for one image with the same
// credentials are coalesced (see pullGroup): 30 pods starting at once cost
// two pulls, not 30, each of which writes containerd's metadata several
// times. Calls with other credentials (or none) never share a pull: one
// could be refused what the other may fetch.
func (r *Runtime) PullImage(ctx context.Context, image string, auth *kruntime.Auth) (kruntime.Image, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return kruntime.Image{}, fmt.Errorf("invalid image name %q: %w", image, err)
	}
	name := reference.TagNameOnly(named).String()
	hosts, presented := r.hosts, func() bool { return false }
	if auth != nil {
		hosts, presented = pullHosts(ctx, r.cfg.HostsDir, r.cfg.RegistryFallback, reference.Domain(named), auth)
	}
	// The shared pull must not end with the caller that started it.
	shared := context.WithoutCancel(ctx)
	identity := auth.Identity()
	key := name + "\x00" + identity
	return r.pulls.do(ctx, key, func() (kruntime.Image, error) { return r.pull(shared, name, hosts, presented, identity) })
}

// pull pulls name through hosts. An image its registry gave only for the
// credentials (presented reports whether they were asked for) is labelled
// registry.LabelPulledWithCredentials from its creation on, with the
// identity of those credentials added to the ones that pulled it before, so
// that the node's mirror never hands it to a pull without them and pods
// without them must ask the registry; a pull that needed none clears the
// label, as the image is then public.
func (r *Runtime) pull(ctx context.Context, name string, hosts docker.RegistryHosts, presented func() bool, identity string) (kruntime.Image, error) {
	ctx, cancel := context.WithTimeout(r.ns(ctx), r.cfg.PullTimeout)
	defer cancel()
	// Only a pull with credentials can keep a label; an anonymous one, on
	// every start of an Always container, need not read the image first.
	var before []string
	if identity != "" {
		if old, err := r.client.ImageService().Get(ctx, name); err == nil {
			before = pulledWith(old.Labels)
		}
	}
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: hosts})
	img, err := r.client.Pull(ctx, name, containerd.WithResolver(resolver),
		containerd.WithPullUnpack, containerd.WithPullSnapshotter(Snapshotter),
		withCredentialsLabel(presented, credentialsLabel(before, identity)))
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return kruntime.Image{}, fmt.Errorf("pulling %s: no answer within %s: %w", name, r.cfg.PullTimeout, err)
		}
		return kruntime.Image{}, fmt.Errorf("failed to pull and unpack image %q: %w", name, err)
	}
	size, _ := img.Size(ctx)
	return kruntime.Image{Ref: name + "@" + img.Target().Digest.String(), Size: size, Credentials: pulledWith(img.Labels())}, nil
}

// maxCredentials bounds the identities an image's label keeps (containerd
// limits a label to 4 KiB); the oldest go first, and a pod whose
// credentials were dropped only asks the registry again.
const maxCredentials = 40

// pulledWith reads the identities of registry.LabelPulledWithCredentials.
func pulledWith(labels map[string]string) []string {
	return strings.Fields(labels[registry.LabelPulledWithCredentials])
}

// credentialsLabel is the label value listing identity after before's.
func credentialsLabel(before []string, identity string) string {
	ids := slices.DeleteFunc(slices.Clone(before), func(id string) bool { return id == identity })
	ids = append(ids, identity)
	if len(ids) > maxCredentials {
		ids = ids[len(ids)-maxCredentials:]
	}
	return strings.Join(ids, " ")
}

// withCredentialsLabel labels the pulled image registry.LabelPulledWithCredentials
// (value) when presented says its registry asked for the credentials.
// Resolution, where the registry challenges, is over once the first
// descriptor is fetched, and the image is created, with the labels it
// carries then, only after the last fetch: labelled from its first moment,
// the image is never in the store unmarked for the mirror to serve.
func withCredentialsLabel(presented func() bool, value string) containerd.RemoteOpt {
	return func(_ *containerd.Client, rc *containerd.RemoteContext) error {
		if rc.Labels == nil {
			rc.Labels = map[string]string{}
		}
		labels := rc.Labels
		var once sync.Once
		wrap := rc.HandlerWrapper
		rc.HandlerWrapper = func(h containerdimages.Handler) containerdimages.Handler {
			if wrap != nil {
				h = wrap(h)
			}
			return containerdimages.HandlerFunc(func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
				once.Do(func() {
					if presented() {
						labels[registry.LabelPulledWithCredentials] = value
					}
				})
				return h.Handle(ctx, desc)
			})
		}
		return nil
	}
}

func podFilter(uid types.UID) string {
	return fmt.Sprintf("labels.%q==%q", LabelPodUID, string(uid))
}

// containerFilter selects the attempts of one container of one pod. The
// conditions go in one filter joined by a comma: containerd ORs separate
// filter arguments, which would match same-named containers of other pods.
func containerFilter(uid types.UID, name string) string {
	return podFilter(uid) + "," + fmt.Sprintf("labels.%q==%q", LabelContainerName, name)
}

func containerID(uid types.UID, name string, attempt int) string {
	sum := sha256.Sum256([]byte(string(uid) + "/" + name))
	if len(name) > 40 {
		name = name[:40]
	}
	return fmt.Sprintf("%s-%s-%d", name, hex.EncodeToString(sum[:6]), attempt)
}

// LogPath is where an attempt of a container writes its output.
func LogPath(podDir, name string, attempt int) string {
	return filepath.Join(podDir, name, strconv.Itoa(attempt)+".log")
}

// LogPath implements runtime.Runtime.
func (r *Runtime) LogPath(uid types.UID, name string, attempt int) string {
	return LogPath(r.podDir(uid), name, attempt)
}

// StartContainer implements runtime.Runtime.
func (r *Runtime) StartContainer(ctx context.Context, req kruntime.StartRequest) error {
	ctx = r.ns(ctx)
	pod, ctr := req.Pod, req.Container
	name, err := NormalizeImage(ctr.Image)
	if err != nil {
		return err
	}
	img, err := r.client.GetImage(ctx, name)
	if err != nil {
		return fmt.Errorf("image %s: %w", name, err)
	}
	imgSpec, err := img.Spec(ctx)
	if err != nil {
		return fmt.Errorf("reading config of %s: %w", name, err)
	}
	if err := runAsNonRootError(pod, ctr, imgSpec.Config.User); err != nil {
		return err
	}
	args := ContainerArgs(imgSpec.Config.Entrypoint, imgSpec.Config.Cmd, ctr.Command, ctr.Args)
	if len(args) == 0 {
		return fmt.Errorf("no command specified for container %s", ctr.Name)
	}
	id := containerID(pod.UID, ctr.Name, req.Attempt)
	logPath := LogPath(req.Sandbox.Dir, ctr.Name, req.Attempt)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return err
	}
	etc := filepath.Join(req.Sandbox.Dir, "etc")
	mounts := []specs.Mount{
		{Destination: "/etc/hosts", Type: "bind", Source: filepath.Join(etc, "hosts"), Options: []string{"rbind", "rw"}},
		{Destination: "/etc/hostname", Type: "bind", Source: filepath.Join(etc, "hostname"), Options: []string{"rbind", "rw"}},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: filepath.Join(etc, "resolv.conf"), Options: []string{"rbind", "rw"}},
	}
	for _, m := range req.Mounts {
		o := []string{"rbind", "rw"}
		if m.ReadOnly {
			o = []string{"rbind", "ro"}
		}
		mounts = append(mounts, specs.Mount{Destination: m.ContainerPath, Type: "bind", Source: m.HostPath, Options: o})
	}
	opts := []oci.SpecOpts{
		oci.WithImageConfig(img),
		oci.WithProcessArgs(args...),
		oci.WithEnv(req.Env),
		oci.WithMounts(mounts),
		oci.WithCgroup(filepath.Join(r.podCgroup(pod.UID), id)),
	}
	if ctr.WorkingDir != "" {
		opts = append(opts, oci.WithProcessCwd(ctr.WorkingDir))
	}
	if ctr.TTY {
		// The process gets a terminal, which the shim creates and reads.
		opts = append(opts, oci.WithTTY)
	}
	if req.Sandbox.NetNS != "" {
		opts = append(opts,
			oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: req.Sandbox.NetNS}),
			oci.WithHostname(network.Hostname(pod)))
	} else {
		opts = append(opts, oci.WithHostNamespace(specs.NetworkNamespace), oci.WithHostNamespace(specs.UTSNamespace))
	}
	pidOpts, err := r.processNamespace(ctx, pod, req.Sandbox, req.Target)
	if err != nil {
		return err
	}
	opts = append(opts, pidOpts...)
	if pod.Spec.HostIPC {
		opts = append(opts, oci.WithHostNamespace(specs.IPCNamespace))
	}
	opts = append(opts, securityOpts(pod, ctr)...)
	opts = append(opts, resourceOpts(ctr)...)
	labels := map[string]string{
		LabelPodUID: string(pod.UID), LabelPodNamespace: pod.Namespace, LabelPodName: pod.Name,
		LabelContainerName: ctr.Name, LabelAttempt: strconv.Itoa(req.Attempt),
	}
	if ctr.Stdin {
		labels[labelStdin] = "true"
		if ctr.StdinOnce {
			labels[labelStdin] = "once"
		}
	}
	// Under the node's lease NewContainer skips creating and deleting one
	// of its own: two fewer metadata writes (each fsynced, one at a time)
	// per start.
	lctx := leases.WithLease(ctx, containersLease)
	c, err := r.client.NewContainer(lctx, id,
		containerd.WithImage(img),
		containerd.WithNewSnapshot(id, img),
		containerd.WithContainerLabels(labels),
		containerd.WithNewSpec(opts...))
	if errdefs.IsAlreadyExists(err) {
		// A previous try of this attempt failed half-way: start over.
		if old, lerr := r.client.LoadContainer(ctx, id); lerr == nil {
			if t, terr := old.Task(ctx, nil); terr == nil {
				_, _ = t.Delete(ctx, containerd.WithProcessKill)
			}
			_ = old.Delete(ctx, containerd.WithSnapshotCleanup)
		}
		c, err = r.client.NewContainer(lctx, id,
			containerd.WithImage(img), containerd.WithNewSnapshot(id, img),
			containerd.WithContainerLabels(labels), containerd.WithNewSpec(opts...))
	}
	if err != nil {
		return fmt.Errorf("creating container %s: %w", ctr.Name, err)
	}
	ioCreator, out, err := r.containerIO(id, pod.UID, logPath, ctr.Stdin, ctr.StdinOnce, ctr.TTY)
	if err != nil {
		_ = c.Delete(ctx, containerd.WithSnapshotCleanup)
		return err
	}
	task, err := c.NewTask(ctx, ioCreator)
	if err != nil {
		r.dropOutput(id)
		_ = c.Delete(ctx, containerd.WithSnapshotCleanup)
		return fmt.Errorf("creating task of %s: %w", ctr.Name, err)
	}
	r.started(out, task)
	exitc, err := task.Wait(context.WithoutCancel(ctx))
	if err != nil {
		_, _ = task.Delete(ctx, containerd.WithProcessKill)
		r.dropOutput(id)
		_ = c.Delete(ctx, containerd.WithSnapshotCleanup)
		return err
	}
	if err := task.Start(ctx); err != nil {
		_, _ = task.Delete(ctx, containerd.WithProcessKill)
		r.dropOutput(id)
		_ = c.Delete(ctx, containerd.WithSnapshotCleanup)
		return fmt.Errorf("starting %s: %w", ctr.Name, err)
	}
	r.recordStart(ctx, c, time.Now())
	r.watch(id, pod.UID, exitc)
	if req.Attempt >= 2 {
		r.pruneAttempts(ctx, pod.UID, ctr.Name, req.Attempt)
	}
	return nil
}

// recordStart keeps the start time of a container in a label, for
// containerStatuses after an agent restart. The label is written off the
// start's path (a metadata transaction, fsynced, that every other start
// waits behind); until it is, Containers reads the time from memory.
func (r *Runtime) recordStart(ctx context.Context, c containerd.Container, at time.Time) {
	id, at := c.ID(), at.Round(0).UTC()
	r.mu.Lock()
	r.startedAt[id] = at
	r.mu.Unlock()
	go func() {
		_, err := c.SetLabels(context.WithoutCancel(ctx), map[string]string{labelStartedAt: at.Format(time.RFC3339Nano)})
		if err != nil && !errdefs.IsNotFound(err) {
			klog.FromContext(ctx).Error(err, "Recording start time", "container", id)
			return // the time stays in memory
		}
		r.mu.Lock()
		delete(r.startedAt, id)
		r.mu.Unlock()
	}()
}

// containersLease holds the snapshots of the node's containers while their
// containers are created. It never expires: a container's snapshot leaves
// it when the container is deleted with its snapshot (WithSnapshotCleanup),
// which every delete here does.
const containersLease = "kubeseed-containers"

// ioDrainTimeout bounds the wait for a container's output after it exited
// (a process it left behind may hold its stdout open).
const ioDrainTimeout = 2 * time.Second

// watch tells the pod's worker when the task exits. The exit counts only
// once the container's output has drained into its log: the exit event can
// overtake the last output, which would otherwise miss the log and attached
// clients. A wait that ends with an error is containerd's connection
// ending, not the container: when the agent stops, the output is left for
// the next agent; otherwise the next sync watches again.
func (r *Runtime) watch(id string, uid types.UID, exitc <-chan containerd.ExitStatus) {
	r.mu.Lock()
	if r.watched[id] {
		r.mu.Unlock()
		return
	}
	r.watched[id] = true
	r.mu.Unlock()
	go func() {
		st := <-exitc
		r.mu.Lock()
		closing := r.closing
		r.mu.Unlock()
		if closing {
			return
		}
		if st.Error() == nil {
			r.exited(id)
		}
		r.mu.Lock()
		delete(r.watched, id)
		r.mu.Unlock()
		if r.cfg.Notify != nil {
			r.cfg.Notify(uid)
		}
	}()
}

// pruneAttempts deletes attempts older than the previous one: the previous
// attempt stays for lastState and `kubectl logs --previous`.
func (r *Runtime) pruneAttempts(ctx context.Context, uid types.UID, name string, current int) {
	cs, err := r.client.Containers(ctx, containerFilter(uid, name))
	if err != nil {
		return
	}
	for _, c := range cs {
		labels, err := c.Labels(ctx)
		if err != nil {
			continue
		}
		if a, _ := strconv.Atoi(labels[LabelAttempt]); a < current-1 {
			if t, err := c.Task(ctx, nil); err == nil {
				_, _ = t.Delete(ctx, containerd.WithProcessKill)
			}
			_ = c.Delete(ctx, containerd.WithSnapshotCleanup)
			_ = os.Remove(LogPath(r.podDir(uid), name, a))
		}
	}
}

// ContainerArgs applies Kubernetes' rule: command replaces the image's
// entrypoint, args replace its cmd, and a command without args drops the
// image's cmd.
func ContainerArgs(entrypoint, cmd, command, args []string) []string {
	switch {
	case len(command) > 0:
		return append(append([]string{}, command...), args...)
	case len(args) > 0:
		return append(append([]string{}, entrypoint...), args...)
	default:
		return append(append([]string{}, entrypoint...), cmd...)
	}
}

func securityOpts(pod *corev1.Pod, c *corev1.Container) []oci.SpecOpts {
	var uid, gid *int64
	if psc := pod.Spec.SecurityContext; psc != nil {
		uid, gid = psc.RunAsUser, psc.RunAsGroup
	}
	var opts []oci.SpecOpts
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = sc.RunAsGroup
		}
		if sc.Privileged != nil && *sc.Privileged {
			opts = append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices)
		}
		if sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem {
			opts = append(opts, oci.WithRootFSReadonly())
		}
		if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
			opts = append(opts, oci.WithNoNewPrivileges)
		}
		if caps := sc.Capabilities; caps != nil {
			for _, c := range caps.Drop {
				if strings.EqualFold(string(c), "ALL") {
					opts = append(opts, oci.WithCapabilities(nil))
				}
			}
			if add := capNames(caps.Add); len(add) > 0 {
				opts = append(opts, oci.WithAddedCapabilities(add))
			}
			var drop []string
			for _, c := range capNames(caps.Drop) {
				if c != "CAP_ALL" {
					drop = append(drop, c)
				}
			}
			if len(drop) > 0 {
				opts = append(opts, oci.WithDroppedCapabilities(drop))
			}
		}
	}
	if uid != nil {
		g := uint32(0)
		if gid != nil {
			g = uint32(*gid)
		}
		opts = append(opts, oci.WithUIDGID(uint32(*uid), g))
	}
	return opts
}

// capNames turns Kubernetes capability names (NET_ADMIN) into OCI ones
// (CAP_NET_ADMIN).
func capNames(caps []corev1.Capability) []string {
	var out []string
	for _, c := range caps {
		n := strings.ToUpper(string(c))
		if !strings.HasPrefix(n, "CAP_") {
			n = "CAP_" + n
		}
		out = append(out, n)
	}
	return out
}

// runAsNonRootError reports a container that must not run as root but would.
func runAsNonRootError(pod *corev1.Pod, c *corev1.Container, imageUser string) error {
	nonRoot, uid := false, (*int64)(nil)
	if psc := pod.Spec.SecurityContext; psc != nil {
		if psc.RunAsNonRoot != nil {
			nonRoot = *psc.RunAsNonRoot
		}
		uid = psc.RunAsUser
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsNonRoot != nil {
			nonRoot = *sc.RunAsNonRoot
		}
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
	}
	if !nonRoot {
		return nil
	}
	if uid != nil {
		if *uid == 0 {
			return fmt.Errorf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", pod.Name, c.Name)
		}
		return nil
	}
	user := strings.SplitN(imageUser, ":", 2)[0]
	if user == "" || user == "0" || user == "root" {
		return errors.New("container has runAsNonRoot and image will run as root")
	}
	if _, err := strconv.Atoi(user); err != nil {
		return fmt.Errorf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root", user)
	}
	return nil
}

// StopContainer implements runtime.Runtime.
func (r *Runtime) StopContainer(ctx context.Context, uid types.UID, name string, grace time.Duration) error {
	ctx = r.ns(ctx)
	cs, err := r.client.Containers(ctx, containerFilter(uid, name))
	if err != nil {
		return err
	}
	for _, c := range cs {
		t, err := c.Task(ctx, nil)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		st, err := t.Status(ctx)
		if err != nil || st.Status != containerd.Running {
			continue
		}
		exitc, err := t.Wait(ctx)
		if err != nil {
			return err
		}
		if err := t.Kill(ctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("signalling %s: %w", name, err)
		}
		select {
		case <-exitc:
			continue
		case <-time.After(grace):
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := t.Kill(ctx, syscall.SIGKILL, containerd.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("killing %s: %w", name, err)
		}
		select {
		case <-exitc:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("container %s did not die after SIGKILL", name)
		}
	}
	return nil
}

// Containers implements runtime.Runtime. A task found stopped has its exit
// recorded in labels and is deleted, so its shim goes away.
func (r *Runtime) Containers(ctx context.Context, uid types.UID) ([]kruntime.Container, error) {
	ctx = r.ns(ctx)
	cs, err := r.client.Containers(ctx, podFilter(uid))
	if err != nil {
		return nil, err
	}
	var out []kruntime.Container
	for _, c := range cs {
		// Memory first: its entry goes only once the label is written.
		r.mu.Lock()
		startedAt, inMemory := r.startedAt[c.ID()]
		r.mu.Unlock()
		info, err := c.Info(ctx, containerd.WithoutRefreshedMetadata)
		if err != nil {
			continue
		}
		labels := info.Labels
		attempt, _ := strconv.Atoi(labels[LabelAttempt])
		kc := kruntime.Container{ID: c.ID(), Name: labels[LabelContainerName], Attempt: attempt, Image: info.Image}
		if img, err := r.client.GetImage(ctx, info.Image); err == nil {
			kc.ImageRef = info.Image + "@" + img.Target().Digest.String()
		}
		kc.StartedAt = parseTime(labels[labelStartedAt])
		if inMemory {
			kc.StartedAt = startedAt
		}
		if code, ok := labels[labelExitCode]; ok {
			n, _ := strconv.Atoi(code)
			kc.State, kc.ExitCode, kc.FinishedAt = kruntime.StateExited, int32(n), parseTime(labels[labelFinishedAt])
		} else {
			t, err := c.Task(ctx, nil)
			switch {
			case errdefs.IsNotFound(err):
				// Created but never started, or lost (a reboot): dead either way.
				kc.State, kc.ExitCode, kc.FinishedAt = kruntime.StateExited, 128, time.Now()
				kc.Message = "container has no process"
				r.recordExit(ctx, c, kc.ExitCode, kc.FinishedAt)
			case err != nil:
				return nil, err
			default:
				st, err := t.Status(ctx)
				if err != nil {
					return nil, err
				}
				switch st.Status {
				case containerd.Running, containerd.Paused, containerd.Pausing:
					kc.State = kruntime.StateRunning
					if exitc, err := t.Wait(context.WithoutCancel(ctx)); err == nil {
						r.watch(c.ID(), uid, exitc)
					}
				case containerd.Created:
					kc.State = kruntime.StateCreated
				default:
					r.awaitOutput(c.ID())
					kc.State, kc.ExitCode, kc.FinishedAt = kruntime.StateExited, int32(st.ExitStatus), st.ExitTime
					r.recordExit(ctx, c, kc.ExitCode, kc.FinishedAt)
					if _, err := t.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
						klog.FromContext(ctx).Error(err, "Deleting exited task", "container", c.ID())
					}
				}
			}
		}
		if kc.State == kruntime.StateExited {
			kc.Reason = "Error"
			if kc.ExitCode == 0 {
				kc.Reason = "Completed"
			}
			if labels[labelOOMKilled] == "true" || r.oomKilled(c.ID()) {
				kc.Reason = "OOMKilled"
			}
		}
		out = append(out, kc)
	}
	return out, nil
}

func (r *Runtime) recordExit(ctx context.Context, c containerd.Container, code int32, at time.Time) {
	if at.IsZero() {
		at = time.Now()
	}
	if _, err := c.SetLabels(ctx, map[string]string{
		labelExitCode: strconv.Itoa(int(code)), labelFinishedAt: at.UTC().Format(time.RFC3339Nano),
	}); err != nil {
		klog.FromContext(ctx).Error(err, "Recording container exit", "container", c.ID())
	}
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// Pods implements runtime.Runtime: pods with containers or a pinned network
// namespace.
func (r *Runtime) Pods(ctx context.Context) ([]types.UID, error) {
	ctx = r.ns(ctx)
	cs, err := r.client.Containers(ctx, fmt.Sprintf("labels.%q", LabelPodUID))
	if err != nil {
		return nil, err
	}
	seen := map[types.UID]bool{}
	var uids []types.UID
	add := func(u types.UID) {
		if !seen[u] {
			seen[u] = true
			uids = append(uids, u)
		}
	}
	for _, c := range cs {
		if l, err := c.Labels(ctx); err == nil {
			add(types.UID(l[LabelPodUID]))
		}
	}
	holders, err := r.client.Containers(ctx, fmt.Sprintf("labels.%q", LabelProcessHolder))
	if err != nil {
		return nil, err
	}
	for _, c := range holders {
		if l, err := c.Labels(ctx); err == nil {
			add(types.UID(l[LabelProcessHolder]))
		}
	}
	pinned, err := r.cfg.Network.PinnedPods()
	if err != nil {
		return nil, err
	}
	for _, u := range pinned {
		add(types.UID(u))
	}
	return uids, nil
}

// resourceOpts turns requests and limits into cgroup settings as upstream
// does: cpu shares from the request, a CFS quota from the limit (100 ms
// period), the memory limit as is.
func resourceOpts(c *corev1.Container) []oci.SpecOpts {
	var opts []oci.SpecOpts
	shares, quota, memory := CgroupValues(c.Resources)
	if shares > 0 {
		opts = append(opts, oci.WithCPUShares(shares))
	}
	if quota > 0 {
		opts = append(opts, oci.WithCPUCFS(quota, 100000))
	}
	if memory > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(memory)))
	}
	return opts
}

// CgroupValues computes cpu shares, CFS quota (µs per 100 ms) and memory
// limit (bytes) of a container; 0 means unset.
func CgroupValues(res corev1.ResourceRequirements) (shares uint64, quota int64, memory int64) {
	if q, ok := res.Requests[corev1.ResourceCPU]; ok {
		shares = uint64(max(2, q.MilliValue()*1024/1000))
	} else if q, ok := res.Limits[corev1.ResourceCPU]; ok {
		// A limit without a request defaults the request to the limit.
		shares = uint64(max(2, q.MilliValue()*1024/1000))
	}
	if q, ok := res.Limits[corev1.ResourceCPU]; ok {
		quota = max(1000, q.MilliValue()*100)
	}
	if q, ok := res.Limits[corev1.ResourceMemory]; ok {
		memory = q.Value()
	}
	return shares, quota, memory
}

// watchOOM records OOM kills reported by the shims, so exits read
// OOMKilled.
func (r *Runtime) watchOOM(ctx context.Context) {
	for ctx.Err() == nil {
		envelopes, errs := r.client.Subscribe(ctx, `topic=="/tasks/oom"`)
	loop:
		for {
			select {
			case <-ctx.Done():
				return
			case err := <-errs:
				if ctx.Err() == nil {
					klog.FromContext(ctx).V(2).Info("OOM event stream ended, resubscribing", "err", err)
					time.Sleep(time.Second)
				}
				break loop
			case env := <-envelopes:
				if env == nil || env.Namespace != Namespace {
					continue
				}
				v, err := typeurl.UnmarshalAny(env.Event)
				if err != nil {
					continue
				}
				if ev, ok := v.(*apievents.TaskOOM); ok {
					r.mu.Lock()
					r.oom[ev.ContainerID] = true
					r.mu.Unlock()
					if c, err := r.client.LoadContainer(ctx, ev.ContainerID); err == nil {
						_, _ = c.SetLabels(ctx, map[string]string{labelOOMKilled: "true"})
					}
				}
			}
		}
	}
}

func (r *Runtime) oomKilled(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.oom[id]
}
