package consistency_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kubeseed/kubeseed/controllers/job"
	"github.com/kubeseed/kubeseed/controllers/manager"
	"github.com/kubeseed/kubeseed/test/testenv"
)

// TestJobWithALaggingJobCache runs the Job controller on a cache whose Jobs
// arrive well after their pods, as on a loaded machine: every pod the
// controller counts and releases shows in the pod cache without its
// finalizer while the Job cache still holds the status from before. An
// Indexed Job must still run each index exactly once. (Without the tracker
// the controller takes a released, succeeded pod for an index never run and
// runs it again.)
func TestJobWithALaggingJobCache(t *testing.T) {
	env, err := testenv.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()
	scheme, err := manager.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	lag := func(o any) (any, error) {
		time.Sleep(300 * time.Millisecond)
		return o, nil
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:  scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   cache.Options{ByObject: map[client.Object]cache.ByObject{&batchv1.Job{}: {Transform: lag}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := job.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "lagging-"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	const completions = 6
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "indexed"},
		Spec: batchv1.JobSpec{
			Completions:    ptr.To[int32](completions),
			Parallelism:    ptr.To[int32](2),
			CompletionMode: ptr.To(batchv1.IndexedCompletion),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "work", Image: "busybox"}},
			}},
		},
	}
	if err := c.Create(ctx, j); err != nil {
		t.Fatal(err)
	}
	// The kubelet's part: every pod succeeds as soon as it is seen.
	go func() {
		for ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			var pods corev1.PodList
			if err := c.List(ctx, &pods, client.InNamespace(ns.Name)); err != nil {
				continue
			}
			for i := range pods.Items {
				p := &pods.Items[i]
				if p.Status.Phase == "" || p.Status.Phase == corev1.PodPending {
					p.Status.Phase = corev1.PodSucceeded
					_ = c.Status().Update(ctx, p)
				}
			}
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var got batchv1.Job
		if err := c.Get(ctx, client.ObjectKeyFromObject(j), &got); err != nil {
			t.Fatal(err)
		}
		complete := false
		for _, cond := range got.Status.Conditions {
			complete = complete || (cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue)
		}
		if complete {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job not complete after 60s: %+v", got.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns.Name)); err != nil {
		t.Fatal(err)
	}
	perIndex := map[string]int{}
	for _, p := range pods.Items {
		perIndex[p.Annotations[batchv1.JobCompletionIndexAnnotation]]++
	}
	for i := range completions {
		if n := perIndex[fmt.Sprint(i)]; n != 1 {
			t.Errorf("index %d ran %d times, want once (pods per index: %v)", i, n, perIndex)
		}
	}
	if len(pods.Items) != completions {
		t.Errorf("%d pods for %d completions", len(pods.Items), completions)
	}
}
