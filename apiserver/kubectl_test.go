package apiserver_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubeseed/kubeseed/test/testenv"
)

const echoManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: echo
  labels:
    app: echo
spec:
  replicas: 3
  selector:
    matchLabels:
      app: echo
  template:
    metadata:
      labels:
        app: echo
    spec:
      containers:
      - name: echo
        image: busybox
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Pod
metadata:
  name: standalone
spec:
  containers:
  - name: c
    image: busybox
---
apiVersion: v1
kind: Service
metadata:
  name: echo
spec:
  selector:
    app: echo
  ports:
  - port: 80
    targetPort: 8080
`

// kubectls are the stock kubectl binaries the API server must work with: the
// v1.37 one `make envtest` builds and the machine's own (older) one.
func kubectls(t *testing.T) map[string]string {
	t.Helper()
	found := map[string]string{}
	if dir, err := testenv.AssetsDir(); err == nil {
		if _, err := os.Stat(filepath.Join(dir, "kubectl")); err == nil {
			found["kubectl-1.37"] = filepath.Join(dir, "kubectl")
		}
	}
	if path, err := exec.LookPath("kubectl"); err == nil {
		found["kubectl-system"] = path
	}
	if len(found) == 0 {
		t.Skip("no kubectl: run `make envtest` or install kubectl")
	}
	return found
}

func kubectl(t *testing.T, bin, kubeconfig, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

func TestStockKubectl(t *testing.T) {
	for name, bin := range kubectls(t) {
		t.Run(name, func(t *testing.T) {
			s := start(t, t.TempDir())
			k := func(stdin string, args ...string) string { return kubectl(t, bin, s.kubeconfig, stdin, args...) }

			if out := k("", "version"); !strings.Contains(out, "Server Version: v1.37.1") {
				t.Errorf("version:\n%s", out)
			}
			out := k(echoManifest, "apply", "-f", "-")
			for _, want := range []string{"deployment.apps/echo created", "pod/standalone created", "service/echo created"} {
				if !strings.Contains(out, want) {
					t.Errorf("apply output lacks %q:\n%s", want, out)
				}
			}
			assertTable(t, k("", "get", "pods"), "NAME", "READY", "STATUS", "RESTARTS", "AGE")
			if out := k("", "get", "pods"); !strings.Contains(out, "standalone") || !strings.Contains(out, "0/1") || !strings.Contains(out, "Pending") {
				t.Errorf("get pods:\n%s", out)
			}
			out = k("", "get", "deploy")
			assertTable(t, out, "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE")
			if !strings.Contains(out, "echo") || !strings.Contains(out, "0/3") {
				t.Errorf("get deploy:\n%s", out)
			}
			assertTable(t, k("", "get", "svc"), "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE")
			assertTable(t, k("", "get", "ns"), "NAME", "STATUS", "AGE")
			if out := k("", "get", "deploy", "echo", "-o", "jsonpath={.spec.template.spec.containers[0].imagePullPolicy}"); out != "Always" {
				t.Errorf("imagePullPolicy of image without tag = %q, want Always", out)
			}
			// Applying the same manifest again changes nothing; server-side apply works too.
			if out := k(echoManifest, "apply", "-f", "-"); !strings.Contains(out, "deployment.apps/echo unchanged") {
				t.Errorf("re-apply:\n%s", out)
			}
			k(echoManifest, "apply", "--server-side", "--force-conflicts", "-f", "-")
			if out := k("", "auth", "can-i", "create", "deployments"); strings.TrimSpace(out) != "yes" {
				t.Errorf("auth can-i: %q", out)
			}
			k("", "scale", "deployment", "echo", "--replicas=2")
			if out := k("", "get", "deploy", "echo", "-o", "jsonpath={.spec.replicas}"); out != "2" {
				t.Errorf("replicas after scale = %q", out)
			}
		})
	}
}

// assertTable checks the header line of a kubectl table.
func assertTable(t *testing.T, out string, columns ...string) {
	t.Helper()
	header := strings.Fields(strings.SplitN(out, "\n", 2)[0])
	if strings.Join(header, " ") != strings.Join(columns, " ") {
		t.Errorf("header = %v, want %v\n%s", header, columns, out)
	}
}

const storageClassManifest = `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: kubeseed.io/local-path
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: other
provisioner: example.com/other
allowVolumeExpansion: true
`

func TestKubectlStorageClasses(t *testing.T) {
	s := server(t)
	for name, bin := range kubectls(t) {
		t.Run(name, func(t *testing.T) {
			k := func(stdin string, args ...string) string { return kubectl(t, bin, s.kubeconfig, stdin, args...) }
			if out := k(storageClassManifest, "apply", "-f", "-"); !strings.Contains(out, "storageclass.storage.k8s.io/standard") {
				t.Errorf("apply:\n%s", out)
			}
			out := k("", "get", "sc")
			assertTable(t, out, "NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE")
			rows := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
				f := strings.Fields(line)
				rows[f[0]] = strings.Join(f, " ")
			}
			if r := rows["standard"]; !strings.HasPrefix(r, "standard (default) kubeseed.io/local-path Delete WaitForFirstConsumer false ") {
				t.Errorf("standard row = %q\n%s", r, out)
			}
			if r := rows["other"]; !strings.HasPrefix(r, "other example.com/other Delete Immediate true ") {
				t.Errorf("other row = %q\n%s", r, out)
			}
			if out := k("", "api-resources", "--api-group=storage.k8s.io", "--no-headers"); !strings.Contains(out, "storageclasses") ||
				!strings.Contains(out, " sc ") || !strings.Contains(out, "volumeattachments") {
				t.Errorf("api-resources:\n%s", out)
			}
			k("", "delete", "sc", "standard", "other")
		})
	}
}

const rbacManifest = `apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: pod-reader
rules:
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: read-pods
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: pod-reader
subjects:
- kind: User
  name: jane
- kind: Group
  name: devs
- kind: ServiceAccount
  name: reader
  namespace: default
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: kubectl-test:viewer
rules:
- apiGroups: ["*"]
  resources: ["*"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: kubectl-test:viewers
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: kubectl-test:viewer
subjects:
- kind: Group
  name: viewers
`

func TestKubectlRBAC(t *testing.T) {
	s := server(t)
	for name, bin := range kubectls(t) {
		t.Run(name, func(t *testing.T) {
			k := func(stdin string, args ...string) string { return kubectl(t, bin, s.kubeconfig, stdin, args...) }
			out := k(rbacManifest, "apply", "-f", "-")
			for _, want := range []string{"role.rbac.authorization.k8s.io/pod-reader", "rolebinding.rbac.authorization.k8s.io/read-pods",
				"clusterrole.rbac.authorization.k8s.io/kubectl-test:viewer", "clusterrolebinding.rbac.authorization.k8s.io/kubectl-test:viewers"} {
				if !strings.Contains(out, want) {
					t.Errorf("apply output lacks %q:\n%s", want, out)
				}
			}
			assertTable(t, k("", "get", "roles"), "NAME", "CREATED", "AT")
			assertTable(t, k("", "get", "clusterrole", "kubectl-test:viewer"), "NAME", "CREATED", "AT")
			out = k("", "get", "rolebindings")
			assertTable(t, out, "NAME", "ROLE", "AGE")
			if !strings.Contains(out, "Role/pod-reader") {
				t.Errorf("get rolebindings:\n%s", out)
			}
			out = k("", "get", "rolebinding", "read-pods", "-o", "wide")
			assertTable(t, out, "NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS")
			if f := strings.Fields(strings.Split(out, "\n")[1]); len(f) != 6 || f[3] != "jane" || f[4] != "devs" || f[5] != "default/reader" {
				t.Errorf("wide row = %v\n%s", f, out)
			}
			out = k("", "get", "clusterrolebinding", "kubectl-test:viewers")
			assertTable(t, out, "NAME", "ROLE", "AGE")
			if !strings.Contains(out, "ClusterRole/kubectl-test:viewer") {
				t.Errorf("get clusterrolebinding:\n%s", out)
			}
			k(rbacManifest, "delete", "-f", "-")
		})
	}
}
