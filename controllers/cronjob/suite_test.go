package cronjob_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kubeseed/kubeseed/test/controllertest"
)

var suite controllertest.Suite

func TestMain(m *testing.M) {
	os.Exit(controllertest.Run(m, &suite, "cronjob"))
}

func newCronJob(ns string) *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tick"},
		Spec: batchv1.CronJobSpec{
			Schedule: "* * * * *",
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "tick"}},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers:    []corev1.Container{{Name: "tick", Image: "busybox:1.35"}},
				}}},
			},
		},
	}
}

func TestStartsTheJobOfAMissedTime(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	cj := newCronJob(ns)
	if err := suite.Client.Create(ctx, cj); err != nil {
		t.Fatal(err)
	}
	// Pretend the last run was three minutes ago: a run is due now.
	past := metav1.NewTime(time.Now().Add(-3 * time.Minute).Truncate(time.Minute))
	controllertest.Eventually(t, 10*time.Second, "lastScheduleTime set back", func() (bool, string) {
		var cur batchv1.CronJob
		if err := suite.Client.Get(ctx, client.ObjectKeyFromObject(cj), &cur); err != nil {
			return false, err.Error()
		}
		if cur.Status.LastScheduleTime != nil && cur.Status.LastScheduleTime.After(past.Time) {
			return true, "" // the controller already ran the current minute
		}
		cur.Status.LastScheduleTime = &past
		err := suite.Client.Status().Update(ctx, &cur)
		return err == nil, fmt.Sprint(err)
	})
	controllertest.Eventually(t, 20*time.Second, "job started", func() (bool, string) {
		var cur batchv1.CronJob
		_ = suite.Client.Get(ctx, client.ObjectKeyFromObject(cj), &cur)
		if cur.Status.LastScheduleTime == nil || !cur.Status.LastScheduleTime.After(past.Time) || len(cur.Status.Active) != 1 {
			return false, fmt.Sprintf("%+v", cur.Status)
		}
		want := fmt.Sprintf("tick-%d", cur.Status.LastScheduleTime.Unix()/60)
		var j batchv1.Job
		if err := suite.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: want}, &j); err != nil {
			return false, err.Error()
		}
		ts := j.Annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"]
		return cur.Status.Active[0].Name == want && metav1.IsControlledBy(&j, &cur) && j.Labels["app"] == "tick" &&
			ts == cur.Status.LastScheduleTime.UTC().Format(time.RFC3339), fmt.Sprintf("job %s annotations %v", j.Name, j.Annotations)
	})
}

func TestKubectlCreateJobFromCronJob(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := suite.Namespace(t)
	cj := newCronJob(ns)
	cj.Spec.Schedule = "0 0 1 1 *" // not due during the test
	if err := suite.Client.Create(ctx, cj); err != nil {
		t.Fatal(err)
	}
	if out, err := suite.RunKubectl(ctx, "-n", ns, "create", "job", "manual", "--from=cronjob/tick"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	controllertest.Eventually(t, 15*time.Second, "manual job tracked as active", func() (bool, string) {
		var cur batchv1.CronJob
		_ = suite.Client.Get(ctx, client.ObjectKeyFromObject(cj), &cur)
		return len(cur.Status.Active) == 1 && cur.Status.Active[0].Name == "manual", fmt.Sprintf("%+v", cur.Status)
	})
}
