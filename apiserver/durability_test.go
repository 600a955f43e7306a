package apiserver_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// child runs kubeseed's API server as its own process on dir (the test
// binary in childEnv mode), so the test can kill it as a crash would.
func child(t *testing.T, dir string, port int) (*exec.Cmd, kubernetes.Interface) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir, childEnv+"_PORT="+strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		c, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "admin.kubeconfig"))
		if err != nil {
			continue
		}
		c.QPS, c.Burst = 1000, 1000
		cs := kubernetes.NewForConfigOrDie(c)
		if body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background()); err == nil && string(body) == "ok" {
			return cmd, cs
		}
	}
	t.Fatal("API server child not ready after 60s")
	return nil, nil
}

// TestKill9WhileWritingLosesNothing crashes the API server (SIGKILL, no
// shutdown) while clients are writing and checks, after a restart on the
// same data dir, that every write it acknowledged is there: config maps with
// their data, services with the cluster IP they were given, and that no
// acknowledged cluster IP is handed out twice. It is a process crash, not a
// power cut: what the kernel holds for etcd's WAL survives either way, so
// this proves the server acknowledges only what its storage wrote and comes
// back from that storage whole (objects, and the service IP allocations kept
// beside them).
func TestKill9WhileWritingLosesNothing(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	first, cs := child(t, dir, port)

	const writers, perWriter = 6, 400
	var mu sync.Mutex
	acked := map[string]string{}      // config map -> its data
	serviceIPs := map[string]string{} // service -> cluster IP
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	started := make(chan struct{}, writers*perWriter)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter && ctx.Err() == nil; i++ {
				name := fmt.Sprintf("w%d-%d", w, i)
				var err error
				if i%4 == 0 {
					var svc *corev1.Service
					svc, err = cs.CoreV1().Services("default").Create(ctx, &corev1.Service{
						ObjectMeta: metav1.ObjectMeta{Name: "svc-" + name},
						Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
					}, metav1.CreateOptions{})
					if err == nil {
						mu.Lock()
						serviceIPs[svc.Name] = svc.Spec.ClusterIP
						mu.Unlock()
					}
				} else {
					data := map[string]string{"value": name + "-payload"}
					_, err = cs.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
						ObjectMeta: metav1.ObjectMeta{Name: "cm-" + name}, Data: data,
					}, metav1.CreateOptions{})
					if err == nil {
						mu.Lock()
						acked["cm-"+name] = data["value"]
						mu.Unlock()
					}
				}
				if err != nil {
					// The server is gone: this writer is done.
					return
				}
				started <- struct{}{}
			}
		}()
	}
	// Crash in the middle of the writes.
	for n := 0; n < writers*perWriter/4; n++ {
		select {
		case <-started:
		case <-ctx.Done():
			t.Fatal("writes did not get going")
		}
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(acked) == 0 || len(serviceIPs) == 0 {
		t.Fatalf("nothing acknowledged before the crash (%d config maps, %d services)", len(acked), len(serviceIPs))
	}

	_, cs = child(t, dir, port)
	rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer rcancel()
	cms, err := cs.CoreV1().ConfigMaps("default").List(rctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]string{}
	for _, cm := range cms.Items {
		have[cm.Name] = cm.Data["value"]
	}
	lost := 0
	for name, value := range acked {
		if have[name] != value {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged config map %s: after restart %q, want %q", name, have[name], value)
			}
		}
	}
	svcs, err := cs.CoreV1().Services("default").List(rctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	owners := map[string]string{}
	for _, s := range svcs.Items {
		byName[s.Name] = s.Spec.ClusterIP
		if other, dup := owners[s.Spec.ClusterIP]; dup && s.Spec.ClusterIP != "" {
			t.Errorf("cluster IP %s held by %s and %s", s.Spec.ClusterIP, other, s.Name)
		}
		owners[s.Spec.ClusterIP] = s.Name
	}
	for name, ip := range serviceIPs {
		if byName[name] != ip {
			lost++
			t.Errorf("acknowledged service %s: after restart IP %q, want %q", name, byName[name], ip)
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged writes lost", lost, len(acked)+len(serviceIPs))
	}
	// New allocations after the crash never reuse an acknowledged IP.
	for i := 0; i < 20; i++ {
		svc, err := cs.CoreV1().Services("default").Create(rctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("after-%d", i)},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := owners[svc.Spec.ClusterIP]; dup {
			t.Errorf("new service %s got %s, which %s holds", svc.Name, svc.Spec.ClusterIP, other)
		}
	}
	t.Logf("%d config maps and %d services acknowledged before SIGKILL; all present after restart", len(acked), len(serviceIPs))
}
