package node

import (
	"context"
	"fmt"
	goruntime "runtime"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// Config describes the node to register.
type Config struct {
	Client   kubernetes.Interface
	NodeName string
	PodCIDR  string
	// NodeIP is the InternalIP address.
	NodeIP string
	// Hostname is the Hostname address.
	Hostname string
	// RootDir is measured for ephemeral storage.
	RootDir string
	// RuntimeVersion is e.g. containerd://1.6.20.
	RuntimeVersion string
	// KubeletVersion is the Kubernetes version the agent implements.
	KubeletVersion string
	// DaemonPort is the agent's HTTPS port (0: none yet).
	DaemonPort int32
	// LeaseDuration is the lease's duration (default 40 s).
	LeaseDuration time.Duration
	// RenewInterval is how often the lease is renewed and the status
	// checked (default 10 s).
	RenewInterval time.Duration
	// StatusReportInterval forces a status update even without change
	// (default 1 min).
	StatusReportInterval time.Duration
}

// LeaseNamespace holds the nodes' heartbeat leases.
const LeaseNamespace = "kube-node-lease"

// Heartbeat keeps a Node and its Lease current.
type Heartbeat struct {
	cfg      Config
	nodeUID  metav1.OwnerReference
	lastSent time.Time
	// info is the machine's description, read once: it changes only
	// with a reboot or a new agent.
	info corev1.NodeSystemInfo
	// lease is the Lease as last written, so a renewal is one update, as
	// upstream kubelet's lease controller renews (a read only after a
	// failed update).
	lease *coordinationv1.Lease
}

// New validates cfg and returns a Heartbeat.
func New(cfg Config) (*Heartbeat, error) {
	if cfg.Client == nil || cfg.NodeName == "" {
		return nil, fmt.Errorf("node: client and node name are required")
	}
	if cfg.LeaseDuration == 0 {
		cfg.LeaseDuration = 40 * time.Second
	}
	if cfg.RenewInterval == 0 {
		cfg.RenewInterval = 10 * time.Second
	}
	if cfg.StatusReportInterval == 0 {
		cfg.StatusReportInterval = time.Minute
	}
	return &Heartbeat{cfg: cfg, info: SystemInfo(cfg.RuntimeVersion, cfg.KubeletVersion)}, nil
}

// Labels are the well-known labels a kubelet puts on its node.
func Labels(name string) map[string]string {
	return map[string]string{
		"kubernetes.io/hostname":  name,
		"kubernetes.io/os":        goruntime.GOOS,
		"kubernetes.io/arch":      goruntime.GOARCH,
		"beta.kubernetes.io/os":   goruntime.GOOS,
		"beta.kubernetes.io/arch": goruntime.GOARCH,
	}
}

// Conditions are the node conditions with their upstream reasons, all
// healthy: the agent reports Ready once it runs pods.
func Conditions(now metav1.Time) []corev1.NodeCondition {
	c := func(t corev1.NodeConditionType, st corev1.ConditionStatus, reason, msg string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: t, Status: st, Reason: reason, Message: msg, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	return []corev1.NodeCondition{
		c(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		c(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		c(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
		c(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady", "kubelet is posting ready status"),
	}
}

// desiredStatus is the node status read from the machine now, with
// transition times kept from old where the status did not change.
func (h *Heartbeat) desiredStatus(old corev1.NodeStatus) (corev1.NodeStatus, error) {
	capacity, err := Capacity(h.cfg.RootDir)
	if err != nil {
		return corev1.NodeStatus{}, err
	}
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	conds := Conditions(now)
	for i := range conds {
		for _, oc := range old.Conditions {
			if oc.Type == conds[i].Type && oc.Status == conds[i].Status {
				conds[i].LastTransitionTime = oc.LastTransitionTime
			}
		}
	}
	addrs := []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: h.cfg.NodeIP}}
	if h.cfg.Hostname != "" {
		addrs = append(addrs, corev1.NodeAddress{Type: corev1.NodeHostName, Address: h.cfg.Hostname})
	}
	return corev1.NodeStatus{
		Capacity:        capacity,
		Allocatable:     capacity.DeepCopy(),
		Conditions:      conds,
		Addresses:       addrs,
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: h.cfg.DaemonPort}},
		NodeInfo:        h.info,
		Images:          old.Images,
		VolumesInUse:    old.VolumesInUse,
		VolumesAttached: old.VolumesAttached,
	}, nil
}

// Register creates the Node or, when it exists (an agent restart), updates
// its labels, pod CIDR and status.
func (h *Heartbeat) Register(ctx context.Context) error {
	nodes := h.cfg.Client.CoreV1().Nodes()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: h.cfg.NodeName, Labels: Labels(h.cfg.NodeName)},
		Spec:       corev1.NodeSpec{PodCIDR: h.cfg.PodCIDR, PodCIDRs: []string{h.cfg.PodCIDR}},
	}
	created, err := nodes.Create(ctx, node, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		existing, err := nodes.Get(ctx, h.cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		changed := false
		if existing.Labels == nil {
			existing.Labels = map[string]string{}
		}
		for k, v := range Labels(h.cfg.NodeName) {
			if existing.Labels[k] != v {
				existing.Labels[k], changed = v, true
			}
		}
		if existing.Spec.PodCIDR == "" && h.cfg.PodCIDR != "" {
			existing.Spec.PodCIDR, existing.Spec.PodCIDRs, changed = h.cfg.PodCIDR, []string{h.cfg.PodCIDR}, true
		}
		if changed {
			if existing, err = nodes.Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("updating node %s: %w", h.cfg.NodeName, err)
			}
		}
		created = existing
	case err != nil:
		return fmt.Errorf("registering node %s: %w", h.cfg.NodeName, err)
	default:
		klog.FromContext(ctx).Info("Registered node", "node", h.cfg.NodeName)
	}
	h.nodeUID = metav1.OwnerReference{APIVersion: "v1", Kind: "Node", Name: created.Name, UID: created.UID}
	// The heartbeat Lease first: whoever sees the node Ready can count on
	// its Lease being there (the node lifecycle controller reads both).
	if err := h.renewLease(ctx); err != nil {
		return err
	}
	return h.updateStatus(ctx, created, true)
}

func (h *Heartbeat) updateStatus(ctx context.Context, node *corev1.Node, force bool) error {
	status, err := h.desiredStatus(node.Status)
	if err != nil {
		return err
	}
	if !force && time.Since(h.lastSent) < h.cfg.StatusReportInterval && sameStatus(node.Status, status) {
		return nil
	}
	node = node.DeepCopy()
	node.Status = status
	if _, err := h.cfg.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating status of node %s: %w", h.cfg.NodeName, err)
	}
	h.lastSent = time.Now()
	return nil
}

// sameStatus compares what matters, ignoring heartbeat times.
func sameStatus(a, b corev1.NodeStatus) bool {
	if len(a.Conditions) != len(b.Conditions) || len(a.Addresses) != len(b.Addresses) {
		return false
	}
	for i := range a.Conditions {
		if a.Conditions[i].Type != b.Conditions[i].Type || a.Conditions[i].Status != b.Conditions[i].Status || a.Conditions[i].Reason != b.Conditions[i].Reason {
			return false
		}
	}
	for i := range a.Addresses {
		if a.Addresses[i] != b.Addresses[i] {
			return false
		}
	}
	return a.NodeInfo == b.NodeInfo && a.DaemonEndpoints == b.DaemonEndpoints &&
		a.Capacity.Cpu().Equal(*b.Capacity.Cpu()) && a.Capacity.Memory().Equal(*b.Capacity.Memory())
}

func (h *Heartbeat) renewLease(ctx context.Context) error {
	if h.lease != nil {
		if err := h.updateLease(ctx, h.lease.DeepCopy()); err == nil {
			return nil
		}
		// Changed or gone under us: read it again.
		h.lease = nil
	}
	leases := h.cfg.Client.CoordinationV1().Leases(LeaseNamespace)
	now := metav1.NewMicroTime(time.Now())
	lease, err := leases.Get(ctx, h.cfg.NodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		created, err := leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: h.cfg.NodeName, Namespace: LeaseNamespace, OwnerReferences: []metav1.OwnerReference{h.nodeUID}},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity:       ptr.To(h.cfg.NodeName),
				LeaseDurationSeconds: ptr.To(int32(h.cfg.LeaseDuration / time.Second)),
				RenewTime:            &now,
			},
		}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("creating lease: %w", err)
		}
		h.lease = created
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading lease: %w", err)
	}
	return h.updateLease(ctx, lease)
}

// updateLease renews lease (which it may change) and keeps what the API
// server returned for the next renewal.
func (h *Heartbeat) updateLease(ctx context.Context, lease *coordinationv1.Lease) error {
	now := metav1.NewMicroTime(time.Now())
	lease.Spec.HolderIdentity = ptr.To(h.cfg.NodeName)
	lease.Spec.LeaseDurationSeconds = ptr.To(int32(h.cfg.LeaseDuration / time.Second))
	lease.Spec.RenewTime = &now
	if len(lease.OwnerReferences) == 0 && h.nodeUID.UID != "" {
		lease.OwnerReferences = []metav1.OwnerReference{h.nodeUID}
	}
	updated, err := h.cfg.Client.CoordinationV1().Leases(LeaseNamespace).Update(ctx, lease, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("renewing lease: %w", err)
	}
	h.lease = updated
	return nil
}

// Run renews the lease and refreshes the status every RenewInterval until
// ctx ends; errors are logged and retried at the next tick.
func (h *Heartbeat) Run(ctx context.Context) {
	log := klog.FromContext(ctx)
	t := time.NewTicker(h.cfg.RenewInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := h.renewLease(ctx); err != nil {
			log.Error(err, "Renewing node lease", "node", h.cfg.NodeName)
		}
		// From the API server's watch cache, as upstream kubelet's first
		// try reads it: most ticks send nothing, and a stale copy only
		// costs a conflict, retried from etcd.
		node, err := h.cfg.Client.CoreV1().Nodes().Get(ctx, h.cfg.NodeName, metav1.GetOptions{ResourceVersion: "0"})
		if apierrors.IsNotFound(err) {
			// Someone deleted our Node: register it again, as kubelet does.
			if err := h.Register(ctx); err != nil {
				log.Error(err, "Re-registering node", "node", h.cfg.NodeName)
			}
			continue
		}
		if err != nil {
			log.Error(err, "Reading node", "node", h.cfg.NodeName)
			continue
		}
		err = h.updateStatus(ctx, node, false)
		if apierrors.IsConflict(err) {
			if node, err = h.cfg.Client.CoreV1().Nodes().Get(ctx, h.cfg.NodeName, metav1.GetOptions{}); err == nil {
				err = h.updateStatus(ctx, node, false)
			}
		}
		if err != nil {
			log.Error(err, "Updating node status", "node", h.cfg.NodeName)
		}
	}
}
