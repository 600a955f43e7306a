package containerd

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kubeseed/kubeseed/kubelet/registry"
)

// BenchmarkThirtyConcurrentPulls: 30 concurrent PullImage("busybox") calls
// (imagePullPolicy Always, through the node's mirror) against a baseline of
// 30 concurrent ImageStatus calls (IfNotPresent with the image present)
// measured in the same run.
//
//	go test -run XXX -bench ThirtyConcurrentPulls ./kubelet/runtime/containerd/
func BenchmarkThirtyConcurrentPulls(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: runs containerd")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root := b.TempDir()
	r, err := New(ctx, Config{RootDir: root})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	m, err := registry.New(registry.Config{Images: r.Client().ImageService(), Content: r.Client().ContentStore(), Namespace: Namespace})
	if err != nil {
		b.Fatal(err)
	}
	mctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(mctx) }()
	defer func() { stop(); <-done }()
	if err := registry.WriteHostsConfig(filepath.Join(root, "certs.d"), m.URL(), registry.DefaultMirrored); err != nil {
		b.Fatal(err)
	}
	thirty := func(f func() error) time.Duration {
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, 30)
		for range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := f(); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	status := func() error { _, err := r.ImageStatus(ctx, "busybox"); return err }
	pull := func() error { _, err := r.PullImage(ctx, "busybox", nil); return err }
	thirty(pull) // warm: connections, caches
	var base, pulls time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		base += thirty(status)
		pulls += thirty(pull)
	}
	b.StopTimer()
	n := time.Duration(b.N)
	b.Logf("30 concurrent: ImageStatus %s, PullImage %s (%.1fx)", base/n, pulls/n, pulls.Seconds()/base.Seconds())
	b.ReportMetric((base/n).Seconds()*1000, "ms-30-status")
	b.ReportMetric((pulls/n).Seconds()*1000, "ms-30-pulls")
	b.ReportMetric(pulls.Seconds()/base.Seconds(), "pulls/status")
}
