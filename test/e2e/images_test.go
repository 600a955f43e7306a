//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	kimages "github.com/kubeseed/kubeseed/kubelet/images"
)

// versionTarball writes an OCI tarball of busybox named name whose
// /version holds version, as a user's `docker save` of a rebuilt tag.
func (c *cluster) versionTarball(name, version string) string {
	c.t.Helper()
	img, err := kimages.Busybox("")
	if err != nil {
		c.t.Fatal(err)
	}
	img.Name = name
	img.Files = append(img.Files, kimages.File{Path: "version", Content: []byte(version + "\n"), Mode: 0o644})
	var buf bytes.Buffer
	if err := kimages.WriteOCILayout(&buf, img); err != nil {
		c.t.Fatal(err)
	}
	path := filepath.Join(c.t.TempDir(), strings.NewReplacer("/", "_", ":", "_").Replace(name)+"-"+version+".tar")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// importImage runs `kubeseed image import` against the running node.
func (c *cluster) importImage(path string) string {
	c.t.Helper()
	out, err := run(c.t, 2*time.Minute, c.bin, "image", "import", "--data-dir", c.dataDir, path)
	if err != nil {
		c.t.Fatalf("kubeseed image import %s: %v\n%s", path, err, out)
	}
	return out
}

// podStatus is the STATUS column of `kubectl get pod`.
func (c *cluster) podStatus(name string) (string, error) {
	out, err := c.kubectlWith(c.kubectlPath(), 30*time.Second, "get", "pod", name, "--no-headers")
	if err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	f := strings.Fields(out)
	if len(f) < 3 {
		return "", fmt.Errorf("get pod %s: %q", name, out)
	}
	return f[2], nil
}

// waitLog waits until the pod's log is want (its program prints and exits).
func (c *cluster) waitLog(pod, want string) {
	c.t.Helper()
	c.eventually(time.Minute, "log of "+pod, func() error {
		out, err := c.kubectlWith(c.kubectlPath(), 30*time.Second, "logs", pod)
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if strings.TrimSpace(out) != want {
			return fmt.Errorf("log %q, want %q", out, want)
		}
		return nil
	})
}

// offlineImages is issue 9's journey: with no registry reachable (the
// cluster runs with --registry-fallback=false), an image that was never
// imported fails to pull with upstream's statuses and event, starts once
// `kubeseed image import` loads it, and a tag re-imported with new content
// is what the next imagePullPolicy Always start runs.
func offlineImages(c *cluster) {
	// Never imported: ErrImagePull, then ImagePullBackOff, with the event.
	c.k("run", "offline-missing", "--image=kubeseed/e2e-missing:v1", "--restart=Never", "--", "cat", "/version")
	seen := map[string]bool{}
	c.eventually(90*time.Second, "offline-missing backing off", func() error {
		st, err := c.podStatus("offline-missing")
		if err != nil {
			return err
		}
		seen[st] = true
		if !seen["ImagePullBackOff"] {
			return fmt.Errorf("status %s (seen %v)", st, seen)
		}
		return nil
	})
	events := c.k("get", "events", "--field-selector", "involvedObject.name=offline-missing")
	if !strings.Contains(events, `Failed to pull image "kubeseed/e2e-missing:v1"`) {
		c.t.Errorf("events of offline-missing: no Failed to pull image event:\n%s", events)
	}
	if !strings.Contains(events, "BackOff") {
		c.t.Errorf("events of offline-missing: no BackOff event:\n%s", events)
	}
	// Imported now: the tag is IfNotPresent, and the kubelet checks presence
	// before the back-off (as upstream), so the pod starts at its next sync.
	if out := c.importImage(c.versionTarball("docker.io/kubeseed/e2e-missing:v1", "found")); !strings.Contains(out, "Imported docker.io/kubeseed/e2e-missing:v1") {
		c.t.Errorf("import: %q", out)
	}
	c.waitLog("offline-missing", "found")

	// An untagged image defaults to Always: each start asks the node's
	// mirror, so a re-imported tag is picked up.
	c.importImage(c.versionTarball("docker.io/kubeseed/e2e-version:latest", "v1"))
	if ls, err := run(c.t, time.Minute, c.bin, "image", "ls", "--data-dir", c.dataDir); err != nil || !strings.Contains(ls, "docker.io/kubeseed/e2e-version") {
		c.t.Errorf("kubeseed image ls: %v\n%s", err, ls)
	}
	c.k("run", "offline-v1", "--image=kubeseed/e2e-version", "--restart=Never", "--", "cat", "/version")
	c.waitLog("offline-v1", "v1")
	if policy := c.k("get", "pod", "offline-v1", "-o", "jsonpath={.spec.containers[0].imagePullPolicy}"); policy != "Always" {
		c.t.Errorf("imagePullPolicy of an untagged image: %q, want Always", policy)
	}
	c.importImage(c.versionTarball("docker.io/kubeseed/e2e-version:latest", "v2"))
	c.k("run", "offline-v2", "--image=kubeseed/e2e-version", "--restart=Never", "--", "cat", "/version")
	c.waitLog("offline-v2", "v2")
	// Never runs what the node has, without asking.
	c.k("run", "offline-never", "--image=kubeseed/e2e-version", "--image-pull-policy=Never", "--restart=Never", "--", "cat", "/version")
	c.waitLog("offline-never", "v2")
	// Never with an image the node lacks: ErrImageNeverPull, no pull.
	c.k("run", "offline-never-missing", "--image=kubeseed/e2e-absent:v1", "--image-pull-policy=Never", "--restart=Never", "--", "true")
	c.eventually(time.Minute, "offline-never-missing waiting", func() error {
		st, err := c.podStatus("offline-never-missing")
		if err != nil {
			return err
		}
		if st != "ErrImageNeverPull" {
			return fmt.Errorf("status %s, want ErrImageNeverPull", st)
		}
		return nil
	})
	c.k("delete", "pod", "offline-missing", "offline-v1", "offline-v2", "offline-never", "offline-never-missing", "--wait=true", "--timeout=60s")
}
