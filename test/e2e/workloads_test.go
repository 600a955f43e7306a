//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const glanceManifest = `apiVersion: v1
kind: Service
metadata:
  name: glance
spec:
  clusterIP: None
  selector:
    app: glance-sts
  ports:
  - port: 80
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: glance
spec:
  serviceName: glance
  replicas: 2
  selector:
    matchLabels:
      app: glance-sts
  template:
    metadata:
      labels:
        app: glance-sts
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: ["sleep", "3600"]
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: glance-agent
spec:
  selector:
    matchLabels:
      app: glance-ds
  template:
    metadata:
      labels:
        app: glance-ds
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: main
        image: busybox
        command: ["sleep", "3600"]
---
apiVersion: batch/v1
kind: Job
metadata:
  name: glance-job
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo job done"]
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: glance-cron
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: busybox
            command: ["echo", "tick"]
`

// workloadsAtAGlance is the rest of JOURNEY step 4: every workload kind in
// one `kubectl get`, describe of each with its events, kubectl edit, and
// kubectl top on real containers.
func workloadsAtAGlance(c *cluster) {
	manifest := filepath.Join(c.t.TempDir(), "glance.yaml")
	if err := os.WriteFile(manifest, []byte(glanceManifest), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.k("apply", "-f", manifest)
	c.k("rollout", "status", "statefulset/glance", "--timeout=120s")
	c.k("rollout", "status", "daemonset/glance-agent", "--timeout=120s")
	c.k("wait", "--for=condition=complete", "job/glance-job", "--timeout=120s")
	if out := c.k("logs", "job/glance-job"); strings.TrimSpace(out) != "job done" {
		c.t.Errorf("logs job/glance-job = %q", out)
	}

	all := c.k("get", "deploy,rs,sts,ds,job,cronjob,svc,ep,po", "-A")
	for _, want := range []string{"statefulset.apps/glance", "daemonset.apps/glance-agent", "job.batch/glance-job",
		"cronjob.batch/glance-cron", "service/glance", "pod/glance-0", "pod/glance-1", "service/kubernetes"} {
		if !strings.Contains(all, want) {
			c.t.Errorf("kubectl get deploy,rs,sts,ds,job,cronjob,svc,ep,po -A lacks %s:\n%s", want, all)
		}
	}
	for _, d := range []struct {
		what string
		want []string
	}{
		{"statefulset/glance", []string{"Replicas:", "2 Running", "Events:", "SuccessfulCreate", "Create Pod glance-0 in StatefulSet glance successful"}},
		{"daemonset/glance-agent", []string{"Desired Number of Nodes Scheduled: 1", "Events:", "SuccessfulCreate", "Created pod: glance-agent-"}},
		{"job/glance-job", []string{"Pods Statuses:", "1 Succeeded", "Events:", "SuccessfulCreate", "Completed", "Job completed"}},
		{"cronjob/glance-cron", []string{"Schedule:", "*/5 * * * *", "Suspend:", "False"}},
	} {
		out := c.k("describe", d.what)
		for _, w := range d.want {
			if !strings.Contains(out, w) {
				c.t.Errorf("describe %s lacks %q:\n%s", d.what, w, out)
			}
		}
	}

	// kubectl edit, with an editor that does what a user would type.
	editor := filepath.Join(c.t.TempDir(), "editor.sh")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\nsed -i 's/^  replicas: 2$/  replicas: 3/' \"$1\"\n"), 0o755); err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	edit := exec.CommandContext(ctx, c.kubectlPath(), "--kubeconfig", c.kubeconfig, "edit", "statefulset/glance")
	edit.Env = append(os.Environ(), "KUBE_EDITOR="+editor)
	if out, err := edit.CombinedOutput(); err != nil || !strings.Contains(string(out), "statefulset.apps/glance edited") {
		c.t.Fatalf("kubectl edit: %v\n%s", err, out)
	}
	c.podsRunning("app=glance-sts", 3)

	// kubectl top: the API server's metrics come from the node's cgroups.
	c.eventually(90*time.Second, "kubectl top pod glance-0", func() error {
		out, err := c.kubectlWith(c.kubectlPath(), 30*time.Second, "top", "pod", "glance-0", "--no-headers")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		f := strings.Fields(out)
		if len(f) != 3 || f[0] != "glance-0" || !strings.HasSuffix(f[1], "m") || !strings.HasSuffix(f[2], "Mi") {
			return fmt.Errorf("unexpected: %q", out)
		}
		return nil
	})
	// A node needs two samples for a rate ("metrics not available yet" until
	// then, as with metrics-server).
	c.eventually(60*time.Second, "kubectl top node", func() error {
		out, err := c.kubectlWith(c.kubectlPath(), 30*time.Second, "top", "node")
		if err != nil || !strings.Contains(out, "CPU(cores)") || !strings.Contains(out, "e2e-node") || strings.Contains(out, "<unknown>") {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})

	c.k("delete", "-f", manifest, "--wait=false")
	c.gone("pods", "app in (glance-sts,glance-ds)")
}
