package apiserver_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kubeseed/kubeseed/test/testenv"
)

const crontabCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - name: Spec
      type: string
      jsonPath: .spec.cronSpec
    schema:
      openAPIV3Schema:
        type: object
        description: CronTab runs a command on a schedule.
        properties:
          spec:
            type: object
            properties:
              cronSpec:
                type: string
                description: the schedule in cron format
              replicas:
                type: integer
                minimum: 1
`

const crontabObject = `apiVersion: stable.example.com/v1
kind: CronTab
metadata:
  name: my-crontab
spec:
  cronSpec: "* * * * */5"
  replicas: 2
`

var crontabs = schema.GroupVersionResource{Group: "stable.example.com", Version: "v1", Resource: "crontabs"}

// controlPlane is an API server a differential test runs against.
type controlPlane struct {
	config     *rest.Config
	kubeconfig string
}

// controlPlanes are kubeseed's API server and upstream kube-apiserver (when
// `make envtest` has built it): a test run against both must see the same.
func controlPlanes(t *testing.T) map[string]controlPlane {
	t.Helper()
	s := server(t)
	out := map[string]controlPlane{"kubeseed": {config: s.config, kubeconfig: s.kubeconfig}}
	if up, ok := upstreamPlane(t, nil); ok {
		out["upstream"] = up
	}
	return out
}

// upstreamPlane starts upstream kube-apiserver through envtest, stopped at
// the end of the test, with configure's changes to envtest's defaults; false
// when `make envtest` has not built it.
func upstreamPlane(t *testing.T, configure func(*envtest.Environment)) (controlPlane, bool) {
	t.Helper()
	env, err := testenv.Upstream()
	if err != nil {
		t.Logf("no upstream kube-apiserver to compare with: %v", err)
		return controlPlane{}, false
	}
	if configure != nil {
		configure(env)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting upstream kube-apiserver: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/kubeconfig"
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return controlPlane{config: cfg, kubeconfig: path}, true
}

// TestCustomResources: a CRD applied with kubectl becomes served (listed in
// discovery, explainable, with its printer columns and schema validation),
// its objects persist, and deleting it removes the group and the objects.
func TestCustomResources(t *testing.T) {
	bin := ""
	for _, b := range kubectls(t) {
		bin = b
		break
	}
	for name, cp := range controlPlanes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			k := func(stdin string, args ...string) string { return kubectl(t, bin, cp.kubeconfig, stdin, args...) }
			if out := k(crontabCRD, "apply", "-f", "-"); !strings.Contains(out, "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created") {
				t.Fatalf("apply crd:\n%s", out)
			}
			ext := apiextensionsclient.NewForConfigOrDie(cp.config)
			waitFor(t, 30*time.Second, "the CRD to be Established", func() error {
				crd, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, "crontabs.stable.example.com", metav1.GetOptions{})
				if err != nil {
					return err
				}
				for _, c := range crd.Status.Conditions {
					if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
						return nil
					}
				}
				return errors.New("not established")
			})
			disco := discovery.NewDiscoveryClientForConfigOrDie(cp.config)
			waitFor(t, 30*time.Second, "stable.example.com/v1 in discovery", func() error {
				_, err := disco.ServerResourcesForGroupVersion("stable.example.com/v1")
				return err
			})

			// kubectl finds it by plural, short name and kind, and shows the
			// printer columns.
			waitFor(t, 30*time.Second, "kubectl apply of a CronTab", func() error {
				_, err := kubectlErr(bin, cp.kubeconfig, crontabObject, "apply", "-f", "-")
				return err
			})
			out := k("", "get", "ct")
			// With additionalPrinterColumns, AGE shows only when a CRD names it.
			assertTable(t, out, "NAME", "SPEC")
			if !strings.Contains(out, "my-crontab") || !strings.Contains(out, "* * * * */5") {
				t.Errorf("get ct:\n%s", out)
			}
			waitFor(t, 30*time.Second, "kubectl explain crontab.spec", func() error {
				out, err := kubectlErr(bin, cp.kubeconfig, "", "explain", "crontab.spec")
				if err == nil && !strings.Contains(out, "cronSpec") {
					err = errors.New(out)
				}
				return err
			})

			// Schema validation: 422 with the field path.
			dyn := dynamic.NewForConfigOrDie(cp.config)
			bad := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "stable.example.com/v1", "kind": "CronTab",
				"metadata": map[string]any{"name": "bad"},
				"spec":     map[string]any{"replicas": int64(0)},
			}}
			_, err := dyn.Resource(crontabs).Namespace("default").Create(ctx, bad, metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.replicas") {
				t.Errorf("invalid CronTab: got %v, want 422 naming spec.replicas", err)
			}
			// A CronTab in a namespace that does not exist is refused.
			bad.SetName("elsewhere")
			bad.Object["spec"] = map[string]any{"replicas": int64(1)}
			if _, err := dyn.Resource(crontabs).Namespace("no-such-namespace").Create(ctx, bad, metav1.CreateOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("CronTab in a missing namespace: got %v, want NotFound", err)
			}

			got, err := dyn.Resource(crontabs).Namespace("default").Get(ctx, "my-crontab", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if v, _, _ := unstructured.NestedInt64(got.Object, "spec", "replicas"); v != 2 {
				t.Errorf("stored replicas = %d, want 2", v)
			}

			k("", "delete", "crd", "crontabs.stable.example.com")
			waitFor(t, 30*time.Second, "stable.example.com to leave discovery", func() error {
				if _, err := disco.ServerResourcesForGroupVersion("stable.example.com/v1"); !apierrors.IsNotFound(err) {
					return errors.New("still served")
				}
				return nil
			})
		})
	}
}

func kubectlErr(bin, kubeconfig, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), errors.New(err.Error() + ": " + string(out))
	}
	return string(out), nil
}

func waitFor(t *testing.T, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
