package podworker

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/kubeseed/kubeseed/kubelet/runtime/simulated"
)

// TestBackoffEndWakesTheWorker checks that a crash-looping container is
// restarted when its back-off ends, not at the next resync: the simulated
// runtime's nodes resync only every minute.
func TestBackoffEndWakesTheWorker(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "crash", UID: "uid-crash",
			Annotations: map[string]string{simulated.AnnotationExitCode: "1", simulated.AnnotationRunSeconds: "0"}},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyAlways, NodeName: "n",
			Containers: []corev1.Container{{Name: "c", Image: "busybox:1.36"}}},
	}
	client := fake.NewClientset(pod)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var ws *Workers
	rt, err := simulated.New(simulated.Config{StartDelay: 20 * time.Millisecond, PodCIDR: "10.9.0.0/24",
		Notify: func(uid types.UID) { ws.Notify(uid) }})
	if err != nil {
		t.Fatal(err)
	}
	ws = New(ctx, Config{Client: client, Runtime: rt, Recorder: record.NewFakeRecorder(1000), Resync: time.Hour,
		Backoff: &Backoff{Initial: 200 * time.Millisecond, Max: 200 * time.Millisecond, ResetAfter: time.Hour}})
	ws.Update(pod)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := client.CoreV1().Pods("ns").Get(ctx, "crash", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// The first restart is immediate; the next ones wait out a back-off.
		if s := got.Status.ContainerStatuses; len(s) == 1 && s[0].RestartCount >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("container statuses after 10 s: %+v", got.Status.ContainerStatuses)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	ws.Wait()
}
