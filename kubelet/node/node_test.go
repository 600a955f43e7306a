package node

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestHeartbeatRequests checks what a renewal costs the API server, which
// thousands of nodes pay every 10 s: one lease update (a read only after a
// failed update) and one node read from the watch cache.
func TestHeartbeatRequests(t *testing.T) {
	client := fake.NewClientset()
	var mu sync.Mutex
	counts := map[string]int{}
	var nodeGets []string
	conflictOnce := true
	client.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		counts[a.GetVerb()+" "+a.GetResource().Resource]++
		if g, ok := a.(k8stesting.GetActionImpl); ok && a.GetResource().Resource == "nodes" {
			nodeGets = append(nodeGets, g.GetOptions.ResourceVersion)
		}
		if a.GetVerb() == "update" && a.GetResource().Resource == "leases" && counts["update leases"] == 2 && conflictOnce {
			conflictOnce = false
			return true, nil, apierrors.NewConflict(a.GetResource().GroupResource(), "n1", nil)
		}
		return false, nil, nil
	})
	h, err := New(Config{Client: client, NodeName: "n1", NodeIP: "127.0.0.1", RootDir: t.TempDir(), RenewInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := h.Register(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if counts["create leases"] != 1 || counts["get leases"] != 1 {
		t.Errorf("registering: %v, want one lease read and create", counts)
	}
	counts = map[string]int{}
	nodeGets = nil
	mu.Unlock()

	done := make(chan struct{})
	go func() { h.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := counts["update leases"]
		mu.Unlock()
		if n >= 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d lease updates", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	// The one conflict costs one read and one more update.
	if got := counts["get leases"]; got != 1 {
		t.Errorf("lease reads in %d renewals: %d, want 1 (after the conflict only); all requests %v", counts["update leases"], got, counts)
	}
	for _, rv := range nodeGets {
		if rv != "0" {
			t.Errorf("node read with resourceVersion %q, want 0 (the watch cache)", rv)
		}
	}
	mu.Unlock()
	lease, err := client.CoordinationV1().Leases(LeaseNamespace).Get(context.Background(), "n1", metav1.GetOptions{})
	if err != nil || lease.Spec.RenewTime == nil || len(lease.OwnerReferences) != 1 {
		t.Fatalf("lease after renewals: %+v %v", lease, err)
	}
	node, err := client.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := false
	for _, c := range node.Status.Conditions {
		ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
	}
	if !ready || node.Status.NodeInfo.OperatingSystem == "" {
		t.Errorf("node status: %+v", node.Status)
	}
}
