//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestJourney walks JOURNEY.md steps 2, 3 and 6 on a real `kubeseed up`
// with stock kubectl only: the seed session's Pod, ReplicaSet, Deployment
// and Service, a killed container restarting, and the whole process killed
// and started again. The steps share one cluster and run in order.
func TestJourney(t *testing.T) {
	c := startCluster(t)
	for _, step := range []struct {
		name string
		run  func(*cluster)
	}{
		{"cluster answers", clusterAnswers},
		{"pod with two containers", simplePod},
		{"kubectl debug", kubectlDebug},
		{"host port", hostPortAnswers},
		{"replicaset heals", replicaSetHeals},
		{"deployment history and rollback", deploymentHistory},
		{"day-two kubectl", dayTwo},
		{"workloads at a glance", workloadsAtAGlance},
		{"offline images", offlineImages},
		{"service by name", serviceByName},
		{"kubectl run -i of a program that exits at once", runExitsAtOnce},
		{"pod calls the API in-cluster", inClusterAPI},
		{"killed container restarts", containerRestarts},
		{"kill -9 and start again", restartKeepsEverything},
	} {
		began := time.Now()
		ok := t.Run(step.name, func(t *testing.T) {
			sub := *c
			sub.t = t
			step.run(&sub)
			c.up = sub.up
		})
		t.Logf("%s: %.1fs", step.name, time.Since(began).Seconds())
		if !ok {
			// Later steps build on earlier ones.
			t.FailNow()
		}
	}
}

// clusterAnswers is JOURNEY step 2, with every kubectl the suite knows.
func clusterAnswers(c *cluster) {
	for name, bin := range kubectls(c.t) {
		out, err := c.kubectlWith(bin, time.Minute, "get", "nodes")
		if err != nil || !strings.Contains(out, "e2e-node") || !strings.Contains(out, " Ready ") {
			c.t.Errorf("%s get nodes: %v\n%s", name, err, out)
		}
		out, err = c.kubectlWith(bin, time.Minute, "get", "ns")
		for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
			if err != nil || !strings.Contains(out, ns) {
				c.t.Errorf("%s get ns lacks %s: %v\n%s", name, ns, err, out)
			}
		}
		if out, err := c.kubectlWith(bin, time.Minute, "cluster-info"); err != nil || !strings.Contains(out, "Kubernetes control plane is running at") {
			c.t.Errorf("%s cluster-info: %v\n%s", name, err, out)
		}
		if out, err := c.kubectlWith(bin, time.Minute, "version"); err != nil || !strings.Contains(out, "Server Version: v1.37") {
			c.t.Errorf("%s version: %v\n%s", name, err, out)
		}
	}
}

// simplePod: apply, 2/2 Running, exec, logs -f, delete.
func simplePod(c *cluster) {
	c.k("apply", "-f", sample("simple-pod.yaml"))
	c.podsRunning("!app", 1)
	out := c.k("get", "pod", "simple-echo")
	if !strings.Contains(out, "2/2") || !strings.Contains(out, "Running") {
		c.t.Errorf("get pod: want 2/2 Running:\n%s", out)
	}
	// The proxy reaches the echo server on localhost: one network namespace.
	if got := c.k("exec", "simple-echo", "-c", "nginx", "--", "wget", "-qO-", "http://localhost:80/"); !strings.Contains(got, "Hello Docker!!") {
		c.t.Errorf("request through the proxy container: %q", got)
	}
	// kubectl logs -f follows: a request made after it started shows up.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	follow := exec.CommandContext(ctx, c.kubectlPath(), "--kubeconfig", c.kubeconfig, "logs", "-f", "simple-echo", "-c", "echo")
	stdout, err := follow.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		c.t.Fatal(err)
	}
	lines := make(chan string, 64)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	sawStart, sawRequest := false, false
	requested := false
	timeout := time.After(45 * time.Second)
	for !sawRequest {
		select {
		case l, ok := <-lines:
			if !ok {
				c.t.Fatalf("kubectl logs -f ended early (start %v)", sawStart)
			}
			sawStart = sawStart || strings.Contains(l, "start server")
			if sawStart && !requested {
				requested = true
				c.k("exec", "simple-echo", "-c", "nginx", "--", "wget", "-qO-", "http://localhost:80/followed")
			}
			sawRequest = sawRequest || (requested && strings.Contains(l, "received request"))
		case <-timeout:
			c.t.Fatalf("kubectl logs -f: start %v, request seen %v", sawStart, sawRequest)
		}
	}
	cancel()
	_ = follow.Wait()
	c.k("delete", "-f", sample("simple-pod.yaml"), "--wait=true", "--timeout=60s")
	if out, err := c.kubectlWith(c.kubectlPath(), time.Minute, "get", "pod", "simple-echo"); err == nil || !strings.Contains(out, "NotFound") {
		c.t.Errorf("pod still there after delete: %v\n%s", err, out)
	}
}

// replicaSetHeals: three pods with generated names; a deleted one is replaced.
func replicaSetHeals(c *cluster) {
	c.k("apply", "-f", sample("simple-replicaset.yaml"))
	names := c.podsRunning("app=echo", 3)
	for _, n := range names {
		if !strings.HasPrefix(n, "echo-") || len(n) != len("echo-")+5 {
			c.t.Errorf("pod name %q is not a generated echo-xxxxx", n)
		}
	}
	c.k("delete", "pod", names[0], "--wait=true", "--timeout=60s")
	after := c.podsRunning("app=echo", 3)
	for _, n := range after {
		if n == names[0] {
			c.t.Errorf("deleted pod %s still listed", n)
		}
	}
	c.k("delete", "-f", sample("simple-replicaset.yaml"))
	c.gone("pods,replicasets", "app=echo")
}

// deploymentHistory: --record, revision 2 from an image change, history with
// CHANGE-CAUSE, --revision=1, undo, cascading delete.
func deploymentHistory(c *cluster) {
	c.k("apply", "-f", sample("simple-deployment.yaml"), "--record")
	c.podsRunning("app=echo", 3)
	out := c.k("get", "pod,replicaset,deployment", "--selector", "app=echo")
	for _, want := range []string{"deployment.apps/echo", "3/3", "replicaset.apps/echo-"} {
		if !strings.Contains(out, want) {
			c.t.Errorf("get pod,replicaset,deployment lacks %q:\n%s", want, out)
		}
	}
	// Revision 2, as the seed session makes it: edit the image and apply.
	manifest, err := os.ReadFile(sample("simple-deployment.yaml"))
	if err != nil {
		c.t.Fatal(err)
	}
	patched := filepath.Join(c.t.TempDir(), "simple-deployment.yaml")
	if err := os.WriteFile(patched, []byte(strings.Replace(string(manifest), "kubeseed/echo:latest", "kubeseed/echo:patched", 1)), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.k("apply", "-f", patched, "--record")
	c.k("rollout", "status", "deployment/echo", "--timeout=120s")
	hist := c.k("rollout", "history", "deployment", "echo")
	for _, want := range []string{"REVISION", "CHANGE-CAUSE", "1         kubectl apply", "2         kubectl apply", "--record=true"} {
		if !strings.Contains(hist, want) {
			c.t.Errorf("rollout history lacks %q:\n%s", want, hist)
		}
	}
	rev1 := c.k("rollout", "history", "deployment", "echo", "--revision=1")
	for _, want := range []string{"with revision #1", "Pod Template:", "kubeseed/echo:latest", "kubernetes.io/change-cause"} {
		if !strings.Contains(rev1, want) {
			c.t.Errorf("rollout history --revision=1 lacks %q:\n%s", want, rev1)
		}
	}
	names := c.podsRunning("app=echo", 3)
	if got := c.k("exec", names[0], "-c", "nginx", "--", "wget", "-qO-", "http://localhost/"); !strings.Contains(got, "(patched)") {
		c.t.Errorf("revision 2 answers %q, want the patched echo", got)
	}
	c.k("rollout", "undo", "deployment", "echo")
	c.k("rollout", "status", "deployment/echo", "--timeout=120s")
	if img := c.k("get", "deployment", "echo", "-o", "jsonpath={.spec.template.spec.containers[1].image}"); img != "kubeseed/echo:latest" {
		c.t.Errorf("after undo the image is %q", img)
	}
	c.k("delete", "-f", sample("simple-deployment.yaml"))
	c.gone("deployments,replicasets,pods", "app=echo")
}

// serviceByName: two release-labelled ReplicaSets and a Service selecting
// summer, reached by three names from `kubectl run -i --rm`; only summer
// pods log the requests.
func serviceByName(c *cluster) {
	c.k("apply", "-f", sample("simple-replicaset-with-label.yaml"))
	c.k("apply", "-f", sample("simple-service.yaml"))
	summer := c.podsRunning("app=echo,release=summer", 2)
	spring := c.podsRunning("app=echo,release=spring", 1)
	c.eventually(time.Minute, "service endpoints", func() error {
		out, err := c.kubectlWith(c.kubectlPath(), 30*time.Second, "get", "endpointslices", "-l", "kubernetes.io/service-name=echo", "-o", "jsonpath={.items[*].endpoints[*].addresses[*]}")
		if n := len(strings.Fields(out)); err != nil || n != 2 {
			return fmt.Errorf("%d addresses (%v): %s", n, err, out)
		}
		return nil
	})
	// (busybox 1.35's wget crashes with -T: leave the timeout to kubectl.)
	out, err := c.shell("debug", "for n in echo echo.default echo.default.svc.cluster.local; do wget -qO- http://$n/ || echo FAILED $n; echo; done")
	if err != nil || strings.Count(out, "Hello Docker!!") != 3 || strings.Contains(out, "FAILED") {
		c.t.Fatalf("requests by service name: %v\n%s", err, out)
	}
	served := 0
	for _, p := range summer {
		served += strings.Count(c.k("logs", p, "-c", "echo"), "received request")
	}
	if served != 3 {
		c.t.Errorf("summer pods logged %d requests, want 3", served)
	}
	for _, p := range spring {
		if n := strings.Count(c.k("logs", p, "-c", "echo"), "received request"); n != 0 {
			c.t.Errorf("spring pod %s logged %d requests, want none", p, n)
		}
	}
}

// kubectlDebug: `kubectl debug -i --target` adds an ephemeral container to
// a running pod; it shares the pod's network and the target's processes, is
// attached to, and its exit is reported without touching the pod.
func kubectlDebug(c *cluster) {
	c.k("run", "debuggee", "--image=busybox", "--restart=Never", "--labels=e2e=debug", "--",
		"httpd", "-f", "-p", "8080", "-h", "/etc")
	defer c.k("delete", "pod", "debuggee", "--wait=false")
	c.podsRunning("e2e=debug", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.kubectlPath(), "--kubeconfig", c.kubeconfig, "debug", "-i", "debuggee",
		"--image=busybox", "--target=debuggee", "-c", "debugger", "--", "sh")
	cmd.Stdin = strings.NewReader("echo seen=$(ps -o comm | grep -c httpd)\necho page=$(wget -qO- http://localhost:8080/hostname)\nexit\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "seen=1") || !strings.Contains(string(out), "page=debuggee") {
		c.t.Fatalf("kubectl debug -i --target: %v; want the target's httpd and its page:\n%s", err, out)
	}
	c.eventually(time.Minute, "debugger's exit reported", func() error {
		code := c.k("get", "pod", "debuggee", "-o", "jsonpath={.status.ephemeralContainerStatuses[?(@.name==\"debugger\")].state.terminated.exitCode}")
		if code != "0" {
			return fmt.Errorf("exit code %q", code)
		}
		return nil
	})
	if restarts := c.k("get", "pod", "debuggee", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"); restarts != "0" {
		c.t.Errorf("the debugged container restarted %s times", restarts)
	}

	// --copy-to debugs a copy of the pod whose containers share one process
	// namespace (shareProcessNamespace), the original left alone.
	defer c.k("delete", "pod", "debuggee-copy", "--wait=false")
	cmd = exec.CommandContext(ctx, c.kubectlPath(), "--kubeconfig", c.kubeconfig, "debug", "-i", "debuggee",
		"--copy-to=debuggee-copy", "--image=busybox", "-c", "copy-shell", "--", "sh")
	cmd.Stdin = strings.NewReader("echo copy-seen=$(ps -o comm | grep -c httpd)\nexit\n")
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "copy-seen=1") {
		c.t.Errorf("kubectl debug --copy-to: %v; want the copy's httpd seen from the new container:\n%s", err, out)
	}
	if share := c.k("get", "pod", "debuggee-copy", "-o", "jsonpath={.spec.shareProcessNamespace}"); share != "true" {
		c.t.Errorf("the copy's shareProcessNamespace is %q", share)
	}
}

// hostPortAnswers: a container port with a hostPort answers at the node's
// addresses (here 127.0.0.1, from the node itself), as upstream's portmap
// plugin maps it, and stops answering once the pod is gone.
func hostPortAnswers(c *cluster) {
	const port = 18080
	c.k("run", "hostport", "--image=busybox", "--restart=Never", "--labels=e2e=hostport",
		fmt.Sprintf(`--overrides={"spec":{"containers":[{"name":"hostport","image":"busybox","args":["httpd","-f","-p","8080","-h","/etc"],"ports":[{"containerPort":8080,"hostPort":%d}]}]}}`, port))
	c.podsRunning("e2e=hostport", 1)
	url := fmt.Sprintf("http://127.0.0.1:%d/hostname", port)
	client := http.Client{Timeout: 5 * time.Second}
	c.eventually(30*time.Second, "the host port answering", func() error {
		resp, err := client.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if strings.TrimSpace(string(body)) != "hostport" {
			return fmt.Errorf("%s answered %q", url, body)
		}
		return nil
	})
	c.k("delete", "pod", "hostport", "--grace-period=1") // httpd as pid 1 ignores SIGTERM
	c.eventually(30*time.Second, "the host port closed with its pod", func() error {
		if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			return fmt.Errorf("%s still answers", url)
		}
		return nil
	})
}

// runExitsAtOnce: `kubectl run -i --rm -- echo` races kubectl's attach with
// the program's exit; whoever wins, the output is printed exactly once.
func runExitsAtOnce(c *cluster) {
	for i := range 5 {
		name, want := fmt.Sprintf("hello-%d", i), fmt.Sprintf("hello %d", i)
		out, err := c.kubectlWith(c.kubectlPath(), time.Minute, "run", "-i", "--rm", name, "--image=busybox",
			"--restart=Never", "--", "echo", want)
		if n := strings.Count(out, want+"\n"); err != nil || n != 1 {
			c.t.Errorf("kubectl run -i --rm -- echo %q printed it %d times, want once: %v\n%s", want, n, err, out)
		}
	}
}

// inClusterAPI: a pod finds the API server as client-go's
// rest.InClusterConfig does. A busybox shell shows what it reads
// (KUBERNETES_SERVICE_HOST and _PORT, the token, ca.crt and namespace under
// /var/run/secrets/kubernetes.io/serviceaccount); busybox's own TLS cannot
// talk to a Go server (it sends no signature_algorithms), so the calls are
// made by kubeseed/incluster, a client-go program as an operator starts:
// through the kubernetes Service, verifying the serving certificate with the
// pod's ca.crt and authenticating with its token.
func inClusterAPI(c *cluster) {
	script := `cd /var/run/secrets/kubernetes.io/serviceaccount || echo FAILED no service account files
echo "namespace=$(cat namespace)"
echo "api=$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT https=$KUBERNETES_SERVICE_PORT_HTTPS link=$KUBERNETES_PORT"
[ -s token ] || echo FAILED empty token
echo BEGIN-CA; cat ca.crt; echo END-CA`
	out, err := c.shell("sa-files", script)
	if err != nil || strings.Contains(out, "FAILED") {
		c.t.Fatalf("service account files and variables in a pod: %v\n%s", err, out)
	}
	apiIP := serviceIP(c.t, e2eServiceCIDR, 1)
	for _, want := range []string{"namespace=default", "api=" + apiIP + ":443 https=443 link=tcp://" + apiIP + ":443"} {
		if !strings.Contains(out, want) {
			c.t.Errorf("pod output lacks %q:\n%s", want, out)
		}
	}
	clusterCA, err := os.ReadFile(filepath.Join(c.dataDir, "pki", "ca.crt"))
	if err != nil {
		c.t.Fatal(err)
	}
	if ca := between(out, "BEGIN-CA\n", "END-CA"); strings.TrimSpace(ca) != strings.TrimSpace(string(clusterCA)) {
		c.t.Errorf("the pod's ca.crt is not the cluster CA:\n%s", ca)
	}

	// RBAC is enforced: the namespace's default service account may list
	// pods only once granted, as on upstream.
	c.k("create", "role", "pod-reader", "--verb=get,list", "--resource=pods")
	c.k("create", "rolebinding", "default-reads-pods", "--role=pod-reader", "--serviceaccount=default:default")
	defer c.k("delete", "rolebinding", "default-reads-pods")
	defer c.k("delete", "role", "pod-reader")
	// The program exits once it listed the pods: read its log, as a user
	// of a finished pod would.
	c.k("run", "api-client", "--image=kubeseed/incluster:latest", "--restart=Never")
	c.eventually(2*time.Minute, "api-client finished", func() error {
		phase := c.k("get", "pod", "api-client", "-o", "jsonpath={.status.phase}")
		if phase != "Succeeded" && phase != "Failed" {
			return fmt.Errorf("phase %q", phase)
		}
		return nil
	})
	logs := c.k("logs", "api-client")
	phase := c.k("get", "pod", "api-client", "-o", "jsonpath={.status.phase}")
	c.k("delete", "pod", "api-client", "--wait=false")
	for _, want := range []string{
		"API server: https://" + net.JoinHostPort(apiIP, "443") + " (CA /var/run/secrets/kubernetes.io/serviceaccount/ca.crt)",
		"authenticated as system:serviceaccount:default:default",
		"pods in namespace default:",
	} {
		if !strings.Contains(logs, want) {
			c.t.Errorf("kubeseed/incluster (%s) did not print %q:\n%s", phase, want, logs)
		}
	}
	// It lists itself. Its program runs before the node agent's status
	// update saying Running can land (on upstream too), so either phase.
	if !strings.Contains(logs, "api-client\tRunning") && !strings.Contains(logs, "api-client\tPending") {
		c.t.Errorf("kubeseed/incluster (%s) did not list itself:\n%s", phase, logs)
	}
}

// serviceIP is the n-th address of cidr (the kubernetes Service has the first).
func serviceIP(t testing.TB, cidr string, n int) string {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		t.Fatal(err)
	}
	a := p.Masked().Addr()
	for range n {
		a = a.Next()
	}
	return a.String()
}

// between is the text of s between the first from and the next to after it.
func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	in, _, _ := strings.Cut(rest, to)
	return in
}

// containerRestarts: kill the echo server's process from the host; the node
// restarts the container and RESTARTS counts it.
func containerRestarts(c *cluster) {
	pid := findProcess(c.t, "/usr/local/bin/echo-server", e2eCgroupParent)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		c.t.Fatalf("kill %d: %v", pid, err)
	}
	c.eventually(time.Minute, "echo container restarted", func() error {
		total := 0
		out, err := c.kubectlWith(c.kubectlPath(), 30*time.Second, "get", "pods", "-l", "app=echo", "-o", "jsonpath={.items[*].status.containerStatuses[*].restartCount}")
		if err != nil {
			return err
		}
		for _, f := range strings.Fields(out) {
			n, _ := strconv.Atoi(f)
			total += n
		}
		if total != 1 {
			return fmt.Errorf("%d restarts counted, want 1", total)
		}
		return nil
	})
	out := c.k("get", "pods", "-l", "app=echo")
	if !strings.Contains(out, "RESTARTS") || !strings.Contains(out, " 1 ") {
		c.t.Errorf("get pods does not show the restart:\n%s", out)
	}
	c.podsRunning("app=echo", 3)
}

// findProcess returns the pid of a process running path inside the pods'
// cgroup parent (so a developer's own cluster is never touched).
func findProcess(t testing.TB, path, cgroupParent string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || !strings.HasSuffix(exe, path) {
			continue
		}
		cg, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cgroup"))
		if strings.Contains(string(cg), cgroupParent+"/") {
			return pid
		}
	}
	t.Fatalf("no process %s in cgroup %s", path, cgroupParent)
	return 0
}

// restartKeepsEverything: kill -9 the whole process, start it again: the
// objects are there and the workloads answer again.
func restartKeepsEverything(c *cluster) {
	c.k("create", "namespace", "e2e-restart")
	c.k("create", "configmap", "kept", "-n", "e2e-restart", "--from-literal=k=v")
	before := c.k("get", "replicasets,services,endpointslices", "-o", "name")
	c.stop(syscall.SIGKILL)
	c.start()
	after := c.k("get", "replicasets,services,endpointslices", "-o", "name")
	if before != after {
		c.t.Errorf("objects changed across the restart:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if got := c.k("get", "configmap", "kept", "-n", "e2e-restart", "-o", "jsonpath={.data.k}"); got != "v" {
		c.t.Errorf("configmap after restart: %q", got)
	}
	c.podsRunning("app=echo", 3)
	out, err := c.shell("debug2", "wget -qO- http://echo/")
	if err != nil || strings.Count(out, "Hello Docker!!") != 1 {
		c.t.Errorf("service after restart: %v\n%s", err, out)
	}
}

// dayTwo is JOURNEY step 4 on a Deployment: wait, describe with events,
// scale, rollout pause/resume/restart/status, patch, apply --server-side,
// diff, explain and port-forward, each as stock kubectl does them.
func dayTwo(c *cluster) {
	c.k("create", "deployment", "web", "--image=kubeseed/echo:latest", "--replicas=1", "--port=8080")
	c.k("wait", "--for=condition=Available", "deployment/web", "--timeout=120s")
	desc := c.k("describe", "deployment", "web")
	for _, want := range []string{"Replicas:", "StrategyType:", "RollingUpdate", "Events:", "ScalingReplicaSet"} {
		if !strings.Contains(desc, want) {
			c.t.Errorf("describe deployment lacks %q:\n%s", want, desc)
		}
	}
	pods := c.podsRunning("app=web", 1)
	if desc := c.k("describe", "pod", pods[0]); !strings.Contains(desc, "Scheduled") || !strings.Contains(desc, "Started") {
		c.t.Errorf("describe pod lacks the Scheduled/Started events:\n%s", desc)
	}
	c.k("scale", "deployment", "web", "--replicas=2")
	c.podsRunning("app=web", 2)
	c.k("rollout", "pause", "deployment/web")
	c.k("set", "env", "deployment/web", "GREETING=paused")
	if rs := c.k("get", "rs", "-l", "app=web", "--no-headers"); strings.Count(rs, "\n") != 0 {
		c.t.Errorf("a paused deployment rolled out:\n%s", rs)
	}
	c.k("rollout", "resume", "deployment/web")
	c.k("rollout", "status", "deployment/web", "--timeout=120s")
	c.k("rollout", "restart", "deployment/web")
	c.k("rollout", "status", "deployment/web", "--timeout=120s")
	c.k("patch", "deployment", "web", "--type=merge", "-p", `{"metadata":{"labels":{"tier":"front"}}}`)
	if got := c.k("get", "deployment", "web", "-o", "jsonpath={.metadata.labels.tier}"); got != "front" {
		c.t.Errorf("patch: label tier=%q", got)
	}
	manifest := filepath.Join(c.t.TempDir(), "cm.yaml")
	if err := os.WriteFile(manifest, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  k: v1\n"), 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.k("apply", "--server-side", "-f", manifest)
	if err := os.WriteFile(manifest, []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  k: v2\n"), 0o644); err != nil {
		c.t.Fatal(err)
	}
	// kubectl diff exits 1 when there is a difference.
	out, err := c.kubectlWith(c.kubectlPath(), time.Minute, "diff", "-f", manifest)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(out, "+  k: v2") {
		c.t.Errorf("kubectl diff: %v\n%s", err, out)
	}
	if ex := c.k("explain", "deployment.spec.strategy"); !strings.Contains(ex, "rollingUpdate") {
		c.t.Errorf("explain:\n%s", ex)
	}
	// port-forward to the deployment's pod answers on a local port.
	port := freePort(c.t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pf := exec.CommandContext(ctx, c.kubectlPath(), "--kubeconfig", c.kubeconfig, "port-forward", "deployment/web", fmt.Sprintf("%d:8080", port))
	if err := pf.Start(); err != nil {
		c.t.Fatal(err)
	}
	defer func() { cancel(); _ = pf.Wait() }()
	c.eventually(30*time.Second, "port-forward answers", func() error {
		body, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err != nil {
			return err
		}
		if !strings.Contains(body, "Hello Docker!!") {
			return fmt.Errorf("answer %q", body)
		}
		return nil
	})
	c.k("delete", "deployment", "web")
	c.k("delete", "configmap", "ssa")
	c.gone("pods", "app=web")
}

func httpGet(url string) (string, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
