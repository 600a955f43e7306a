package nodelifecycle_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// gracePeriod is short so a silent node is noticed within the test.
const gracePeriod = 3 * time.Second

// kubelet plays a node agent: it posts Ready and renews the node's Lease.
type kubelet struct {
	t    *testing.T
	node string
}

func (k kubelet) heartbeat(ctx context.Context) {
	k.t.Helper()
	if err := k.beat(ctx); err != nil {
		k.t.Fatal(err)
	}
}

// keepAlive heartbeats every second until the returned stop is called.
func (k kubelet) keepAlive(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			_ = k.beat(ctx)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (k kubelet) beat(ctx context.Context) error {
	var n corev1.Node
	if err := k8sClient.Get(ctx, client.ObjectKey{Name: k.node}, &n); err != nil {
		return err
	}
	now := metav1.Now()
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		Message: "kubelet is posting ready status", LastHeartbeatTime: now, LastTransitionTime: now}}
	if err := k8sClient.Status().Update(ctx, &n); err != nil {
		return fmt.Errorf("post node status: %w", err)
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-node-lease", Name: k.node}}
	micro := metav1.NewMicroTime(time.Now())
	err := k8sClient.Get(ctx, client.ObjectKeyFromObject(lease), lease)
	switch {
	case apierrors.IsNotFound(err):
		lease.Spec = coordinationv1.LeaseSpec{HolderIdentity: &k.node, LeaseDurationSeconds: new(int32(40)), RenewTime: &micro}
		err = k8sClient.Create(ctx, lease)
	case err == nil:
		lease.Spec.RenewTime = &micro
		err = k8sClient.Update(ctx, lease)
	}
	if err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	return nil
}

func managedTaints(n *corev1.Node) string {
	s := ""
	for _, t := range n.Spec.Taints {
		s += t.ToString() + " "
	}
	return s
}

func TestSilentNodeIsTaintedAndItsPodsEvicted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const name = "worker-1"
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-node-lease"}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "default"}},
	} {
		if err := k8sClient.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	// A second node stays healthy throughout: with every node down, nothing
	// would be evicted (see the end of the test).
	for _, n := range []string{name, "worker-2"} {
		if err := k8sClient.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}); err != nil {
			t.Fatal(err)
		}
	}
	node := &corev1.Node{}
	stopOther := kubelet{t: t, node: "worker-2"}.keepAlive(ctx)
	defer stopOther()
	k := kubelet{t: t, node: name}
	k.heartbeat(ctx)

	// Ready: the API server's not-ready taint on new nodes is lifted.
	eventually(t, ctx, "not-ready taint lifted", func() error {
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
			return err
		}
		if s := managedTaints(node); s != "" {
			return fmt.Errorf("taints %q", s)
		}
		return nil
	})

	// Heartbeats keep it Ready past the grace period.
	for range 5 {
		time.Sleep(gracePeriod / 3)
		k.heartbeat(ctx)
	}
	if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
		t.Fatal(err)
	}
	if s := managedTaints(node); s != "" {
		t.Fatalf("a heartbeating node got taints %q", s)
	}

	pod := func(podName string, tolerations ...corev1.Toleration) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: podName},
			Spec: corev1.PodSpec{NodeName: name, Tolerations: tolerations,
				Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
		}
		if err := k8sClient.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		p.Status.Phase = corev1.PodRunning
		p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		if err := k8sClient.Status().Update(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	unreachable := func(seconds *int64) corev1.Toleration {
		return corev1.Toleration{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoExecute, TolerationSeconds: seconds}
	}
	quick := pod("quick", unreachable(new(int64(1))))
	patient := pod("patient", unreachable(new(int64(300))))
	forever := pod("forever", unreachable(nil))

	// The kubelet goes silent.
	start := time.Now()
	eventually(t, ctx, "node marked unknown and tainted unreachable", func() error {
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
			return err
		}
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && (c.Status != corev1.ConditionUnknown || c.Reason != "NodeStatusUnknown" || c.Message != "Kubelet stopped posting node status.") {
				return fmt.Errorf("Ready = %s %s %q", c.Status, c.Reason, c.Message)
			}
		}
		if s := managedTaints(node); s != "node.kubernetes.io/unreachable:NoSchedule node.kubernetes.io/unreachable:NoExecute " {
			return fmt.Errorf("taints %q", s)
		}
		return nil
	})
	if silent := time.Since(start); silent < gracePeriod-time.Second {
		t.Errorf("node marked unknown after %v, before the %v grace period", silent, gracePeriod)
	}
	eventually(t, ctx, "pod tolerating 1s evicted, pods marked not ready", func() error {
		var got corev1.Pod
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(quick), &got); err == nil && got.DeletionTimestamp == nil {
			return fmt.Errorf("pod %s not evicted", quick.Name)
		}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(patient), &got); err != nil {
			return err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status != corev1.ConditionFalse {
				return fmt.Errorf("pod %s still Ready", got.Name)
			}
		}
		return nil
	})
	for _, p := range []*corev1.Pod{patient, forever} {
		var got corev1.Pod
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(p), &got); err != nil || got.DeletionTimestamp != nil {
			t.Errorf("pod %s tolerating the taint for longer was evicted (err %v)", p.Name, err)
		}
	}

	// The kubelet comes back: the taints go.
	k.heartbeat(ctx)
	eventually(t, ctx, "taints removed on recovery", func() error {
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
			return err
		}
		if s := managedTaints(node); s != "" {
			return fmt.Errorf("taints %q", s)
		}
		return nil
	})

	// Every node goes silent: that looks like the control plane being cut
	// off, so, as upstream, no node gets a NoExecute taint and nothing is
	// evicted.
	stopOther()
	eventually(t, ctx, "all nodes unknown without NoExecute taints", func() error {
		for _, n := range []string{name, "worker-2"} {
			var got corev1.Node
			if err := k8sClient.Get(ctx, client.ObjectKey{Name: n}, &got); err != nil {
				return err
			}
			if s := managedTaints(&got); s != "node.kubernetes.io/unreachable:NoSchedule " {
				return fmt.Errorf("node %s taints %q", n, s)
			}
		}
		return nil
	})
	var got corev1.Pod
	if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(patient), &got); err != nil || got.DeletionTimestamp != nil {
		t.Errorf("pod %s evicted while every node was down (err %v)", patient.Name, err)
	}
}
