package kubelet_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	containerdclient "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kubeseed/kubeseed/kubelet"
	kimages "github.com/kubeseed/kubeseed/kubelet/images"
	"github.com/kubeseed/kubeseed/kubelet/registry"
	kubeletcontainerd "github.com/kubeseed/kubeseed/kubelet/runtime/containerd"
)

// upstreamNamespace holds the images of the test's own "remote" registry,
// a second mirror on loopback over the node's containerd.
const upstreamNamespace = "kubeseed-test-upstream"

// versionImage is busybox with /version holding version.
func versionImage(t *testing.T, name, version string) []byte {
	t.Helper()
	img, err := kimages.Busybox("")
	if err != nil {
		t.Fatal(err)
	}
	img.Name = name
	img.Files = append(img.Files, kimages.File{Path: "version", Content: []byte(version + "\n")})
	var buf bytes.Buffer
	if err := kimages.WriteOCILayout(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// upstreamRegistry connects to the node's containerd and serves its
// upstreamNamespace as the test's "remote" registry, until the test ends.
func upstreamRegistry(t *testing.T, cfg kubelet.Config) (*containerdclient.Client, *registry.Mirror) {
	t.Helper()
	cc, err := containerdclient.New(kubeletcontainerd.SocketPath(cfg.RootDir), containerdclient.WithDefaultNamespace(kubeletcontainerd.Namespace))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	up, err := registry.New(registry.Config{Images: cc.ImageService(), Content: cc.ContentStore(), Namespace: upstreamNamespace})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- up.Run(ctx) }()
	t.Cleanup(func() { stop(); <-done })
	return cc, up
}

func importInto(t *testing.T, c *containerdclient.Client, namespace string, tarball []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx = namespaces.WithNamespace(ctx, namespace)
	if _, err := kimages.Import(ctx, c, bytes.NewReader(tarball), kubeletcontainerd.Snapshotter); err != nil {
		t.Fatal(err)
	}
}

// podEvents lists the events of a pod as "Reason: message" lines.
func podEvents(ns, name string) []string {
	evs, err := client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range evs.Items {
		out = append(out, e.Reason+": "+e.Message)
	}
	return out
}

func hasEvent(ns, name, prefix string) func() (bool, error) {
	return func() (bool, error) {
		evs := podEvents(ns, name)
		for _, e := range evs {
			if strings.HasPrefix(e, prefix) {
				return true, nil
			}
		}
		return false, fmt.Errorf("events: %q", evs)
	}
}

func waitingReason(ns, name, reason string) func() (bool, error) {
	return func() (bool, error) {
		p, err := getPod(ns, name)
		if err != nil {
			return false, err
		}
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Waiting != nil && cs.State.Waiting.Reason == reason {
				return true, nil
			}
		}
		return false, fmt.Errorf("statuses %+v", p.Status.ContainerStatuses)
	}
}

// recordWaiting watches a pod from before its creation and returns what
// gives the distinct waiting reasons of its containers seen so far, in order
// (ErrImagePull lasts one status update, so polling could miss it).
func recordWaiting(t *testing.T, ns, name string) func() []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []string
	go func() {
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			for _, cs := range p.Status.ContainerStatuses {
				if cs.State.Waiting == nil {
					continue
				}
				mu.Lock()
				if len(seen) == 0 || seen[len(seen)-1] != cs.State.Waiting.Reason {
					seen = append(seen, cs.State.Waiting.Reason)
				}
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

func pullPod(ns, name, node, image string, policy corev1.PullPolicy, command string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PodSpec{
		NodeName: node, TerminationGracePeriodSeconds: ptr.To[int64](1),
		Containers: []corev1.Container{{Name: "main", Image: image, ImagePullPolicy: policy,
			Command: []string{"sh", "-c", command}}},
	}}
}

func createPod(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	if _, err := client.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// logOf reads the log of one attempt of a pod's container.
func logOf(rootDir, ns, name string, attempt int) (string, error) {
	p, err := getPod(ns, name)
	if err != nil {
		return "", err
	}
	return readLog(kubeletcontainerd.LogPath(filepath.Join(rootDir, "pods", string(p.UID)), "main", attempt))
}

// TestImagePulls runs upstream's pull semantics offline: the agent's
// registry fallback is off (as in every test), so pulls reach loopback
// registries only: the node's mirror for docker.io, and a registry the test
// serves for example.test.
func TestImagePulls(t *testing.T) {
	cfg := rootAgentConfig(t, "pull-node", "kstkubelet2", "10.244.249.0/24")
	ns := "pull"
	startNode(t, cfg, ns)
	cc, up := upstreamRegistry(t, cfg)
	// The test's registry for example.test, configured as a user would
	// (the agent leaves such directories alone; hosts.toml is read at each
	// pull).
	hostsDir := filepath.Join(cfg.RootDir, "certs.d", "example.test")
	if err := os.MkdirAll(hostsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hostsDir, "hosts.toml"), []byte(fmt.Sprintf(`server = "https://example.test"

[host.%q]
  capabilities = ["pull", "resolve"]
`, up.URL())), 0o644); err != nil {
		t.Fatal(err)
	}
	importInto(t, cc, upstreamNamespace, versionImage(t, "example.test/demo/app:latest", "remote-v1"))

	// Always (the API's default for an untagged image) through the node's
	// mirror, offline.
	createPod(t, pullPod(ns, "always", "pull-node", "busybox", "", "exec sleep 3600"))
	// Never and IfNotPresent with the image on the node: no pull.
	createPod(t, pullPod(ns, "never", "pull-node", "busybox", corev1.PullNever, "exec sleep 3600"))
	createPod(t, pullPod(ns, "ifnotpresent", "pull-node", "busybox", corev1.PullIfNotPresent, "exec sleep 3600"))
	// Images nobody has.
	missingReasons := recordWaiting(t, ns, "missing")
	createPod(t, pullPod(ns, "missing", "pull-node", "nothere", corev1.PullAlways, "true"))
	createPod(t, pullPod(ns, "never-missing", "pull-node", "nothere", corev1.PullNever, "true"))
	// IfNotPresent with an image only the remote registry has: one pull.
	createPod(t, pullPod(ns, "remote", "pull-node", "example.test/demo/app:latest", corev1.PullIfNotPresent, "cat /version; exec sleep 3600"))

	eventually(t, 60*time.Second, "Always pod Running", podRunningReady(ns, "always"))
	eventually(t, 10*time.Second, "Pulling event", hasEvent(ns, "always", `Pulling: Pulling image "busybox"`))
	eventually(t, 10*time.Second, "Pulled event", hasEvent(ns, "always", `Pulled: Successfully pulled image "busybox" in `))
	p, _ := getPod(ns, "always")
	if id := p.Status.ContainerStatuses[0].ImageID; !strings.HasPrefix(id, "docker.io/library/busybox:latest@sha256:") {
		t.Errorf("imageID %q", id)
	}
	for _, name := range []string{"never", "ifnotpresent"} {
		eventually(t, 30*time.Second, name+" pod Running", podRunningReady(ns, name))
		eventually(t, 10*time.Second, name+": already present", hasEvent(ns, name, `Pulled: Container image "busybox" already present on machine and can be accessed by the pod`))
		if ok, _ := hasEvent(ns, name, "Pulling:")(); ok {
			t.Errorf("%s pulled: %q", name, podEvents(ns, name))
		}
	}

	eventually(t, 30*time.Second, "ErrImagePull, then ImagePullBackOff", func() (bool, error) {
		got := strings.Join(missingReasons(), " ")
		return strings.Contains(got, "ErrImagePull ImagePullBackOff"), fmt.Errorf("waiting reasons %s", got)
	})
	eventually(t, 10*time.Second, "Failed event", hasEvent(ns, "missing", `Failed: Failed to pull image "nothere": `))
	eventually(t, 10*time.Second, "BackOff event", hasEvent(ns, "missing", `BackOff: Back-off pulling image "nothere"`))
	p, _ = getPod(ns, "missing")
	if w := p.Status.ContainerStatuses[0].State.Waiting; w == nil || !strings.Contains(w.Message, "not found") {
		t.Errorf("back-off message %+v", w)
	}
	for _, e := range podEvents(ns, "missing") {
		if strings.HasPrefix(e, "Failed: Failed to pull") && !strings.Contains(e, "docker.io/library/nothere:latest") {
			t.Errorf("the failure does not say what was pulled: %q", e)
		}
	}
	eventually(t, 30*time.Second, "ErrImageNeverPull", waitingReason(ns, "never-missing", "ErrImageNeverPull"))
	eventually(t, 10*time.Second, "ErrImageNeverPull event", hasEvent(ns, "never-missing",
		`ErrImageNeverPull: Container image "nothere" is not present with pull policy of Never`))

	eventually(t, 60*time.Second, "remote pod Running", podRunningReady(ns, "remote"))
	eventually(t, 10*time.Second, "remote pod pulled", hasEvent(ns, "remote", `Pulled: Successfully pulled image "example.test/demo/app:latest"`))
	eventually(t, 10*time.Second, "remote image runs", func() (bool, error) {
		out, err := logOf(cfg.RootDir, ns, "remote", 0)
		return out == "remote-v1\n", fmt.Errorf("log %q: %v", out, err)
	})
	// Present now: a second IfNotPresent pod does not pull again.
	createPod(t, pullPod(ns, "remote-again", "pull-node", "example.test/demo/app:latest", corev1.PullIfNotPresent, "exec sleep 3600"))
	eventually(t, 30*time.Second, "second remote pod Running", podRunningReady(ns, "remote-again"))
	eventually(t, 10*time.Second, "already present", hasEvent(ns, "remote-again", `Pulled: Container image "example.test/demo/app:latest" already present on machine and can be accessed by the pod`))
}

// TestAlwaysPicksUpAReimportedTag: an image imported again under the same
// tag with other content runs at the next start of an Always container (the
// mirror answers with the new digest), as a moved tag would upstream.
func TestAlwaysPicksUpAReimportedTag(t *testing.T) {
	cfg := rootAgentConfig(t, "retag-node", "kstkubelet3", "10.244.248.0/24")
	ns := "retag"
	startNode(t, cfg, ns)
	cc, err := containerdclient.New(kubeletcontainerd.SocketPath(cfg.RootDir), containerdclient.WithDefaultNamespace(kubeletcontainerd.Namespace))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	const name = "docker.io/kubeseed/app:latest"
	importInto(t, cc, kubeletcontainerd.Namespace, versionImage(t, name, "v1"))

	// Each attempt prints its image's version and exits after a moment:
	// restartPolicy Always starts the next attempt, pulling again.
	createPod(t, pullPod(ns, "app", "retag-node", "kubeseed/app", "", "cat /version; sleep 2"))
	eventually(t, 60*time.Second, "first attempt ran v1", func() (bool, error) {
		out, err := logOf(cfg.RootDir, ns, "app", 0)
		return out == "v1\n", fmt.Errorf("log %q: %v", out, err)
	})
	// The log can be read before the agent has posted the status.
	var firstID string
	eventually(t, 30*time.Second, "first imageID reported", func() (bool, error) {
		p, err := getPod(ns, "app")
		if err != nil {
			return false, err
		}
		if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].ImageID == "" {
			return false, fmt.Errorf("statuses %+v", p.Status.ContainerStatuses)
		}
		firstID = p.Status.ContainerStatuses[0].ImageID
		return true, nil
	})
	importInto(t, cc, kubeletcontainerd.Namespace, versionImage(t, name, "v2"))
	eventually(t, 60*time.Second, "the next attempt ran v2", func() (bool, error) {
		out, err := logOf(cfg.RootDir, ns, "app", 1)
		return out == "v2\n", fmt.Errorf("log %q: %v", out, err)
	})
	eventually(t, 30*time.Second, "imageID moved", func() (bool, error) {
		p, err := getPod(ns, "app")
		if err != nil {
			return false, err
		}
		id := p.Status.ContainerStatuses[0].ImageID
		return id != firstID && strings.HasPrefix(id, name+"@sha256:"), fmt.Errorf("imageID %q (first %q)", id, firstID)
	})
}

// basicAuth puts a registry behind HTTP basic auth as a private registry
// does: without the right credentials every request gets 401 with a Basic
// challenge and the distribution API's error body. It records the users
// that presented credentials, in order.
func basicAuth(user, password string, next http.Handler) (http.Handler, func() []string) {
	var mu sync.Mutex
	var users []string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if ok {
			mu.Lock()
			if len(users) == 0 || users[len(users)-1] != u+":"+p {
				users = append(users, u+":"+p)
			}
			mu.Unlock()
		}
		if !ok || u != user || p != password {
			w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
			w.Header().Set("WWW-Authenticate", `Basic realm="kubeseed test registry"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}`)
			return
		}
		next.ServeHTTP(w, r)
	})
	return h, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), users...) }
}

// TestImagePullSecrets pulls from a registry that wants credentials: a pod
// without them fails to pull (ErrImagePull, then ImagePullBackOff), one
// naming a secret that does not exist says so, and the same image with
// imagePullSecrets naming a dockerconfigjson Secret for the registry runs,
// its credentials tried in order until one is accepted.
func TestImagePullSecrets(t *testing.T) {
	cfg := rootAgentConfig(t, "secret-node", "kstkubelet6", "10.244.245.0/24")
	// The node's mirror at a known address, so that the registry's
	// hosts.toml can send pulls to it first, as for a mirrored registry.
	cfg.RegistryMirrorAddress = loopbackAddress(t)
	ns := "pullsecrets"
	startNode(t, cfg, ns)
	// The registry is served behind basic auth; its own listener stays
	// unused until the test ends.
	cc, up := upstreamRegistry(t, cfg)
	private, presented := basicAuth("robot", "s3cret", up)
	srv := httptest.NewServer(private)
	defer srv.Close()
	hostsDir := filepath.Join(cfg.RootDir, "certs.d", "example.test")
	if err := os.MkdirAll(hostsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(hostsDir, "hosts.toml"), []byte(fmt.Sprintf(`server = "https://example.test"

[host.%q]
  capabilities = ["pull", "resolve"]
`, srv.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	const image = "example.test/private/app:latest"
	importInto(t, cc, upstreamNamespace, versionImage(t, image, "private-v1"))

	// Without credentials; and naming a secret nobody created.
	anonReasons := recordWaiting(t, ns, "anonymous")
	createPod(t, pullPod(ns, "anonymous", "secret-node", image, corev1.PullAlways, "cat /version; exec sleep 3600"))
	missing := pullPod(ns, "missing-secret", "secret-node", image, corev1.PullAlways, "exec sleep 3600")
	missing.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "nothere"}}
	createPod(t, missing)
	eventually(t, 30*time.Second, "ErrImagePull, then ImagePullBackOff", func() (bool, error) {
		got := strings.Join(anonReasons(), " ")
		return strings.Contains(got, "ErrImagePull ImagePullBackOff"), fmt.Errorf("waiting reasons %s", got)
	})
	eventually(t, 10*time.Second, "Failed event naming the refusal", hasEvent(ns, "anonymous",
		`Failed: Failed to pull image "`+image+`": failed to pull and unpack image "`+image+`": failed to resolve reference`))
	for _, e := range podEvents(ns, "anonymous") {
		if strings.HasPrefix(e, "Failed: Failed to pull") && !strings.Contains(e, "no basic auth credentials") {
			t.Errorf("the failure does not say credentials were wanted: %q", e)
		}
	}
	eventually(t, 30*time.Second, "missing secret reported", hasEvent(ns, "missing-secret",
		"FailedToRetrieveImagePullSecret: Unable to retrieve some image pull secrets (nothere); attempting to pull the image may not succeed."))
	eventually(t, 10*time.Second, "missing secret: ErrImagePull or back-off", func() (bool, error) {
		if ok, _ := waitingReason(ns, "missing-secret", "ErrImagePull")(); ok {
			return true, nil
		}
		return waitingReason(ns, "missing-secret", "ImagePullBackOff")()
	})
	if got := presented(); len(got) != 0 {
		t.Errorf("credentials presented before any secret existed: %q", got)
	}

	// The credentials, as `kubectl create secret docker-registry` writes
	// them (auth is base64 of user:password); a wrong one listed first is
	// tried first.
	for name, password := range map[string]string{"regcred": "s3cret", "oldcred": "expired"} {
		auth := base64.StdEncoding.EncodeToString([]byte("robot:" + password))
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeDockerConfigJson,
			Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(fmt.Sprintf(
				`{"auths":{"example.test":{"username":"robot","password":%q,"auth":%q}}}`, password, auth))}}
		if _, err := client.CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	withSecret := pullPod(ns, "with-secret", "secret-node", image, "", "cat /version; exec sleep 3600")
	withSecret.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "oldcred"}, {Name: "regcred"}}
	createPod(t, withSecret)
	eventually(t, 60*time.Second, "pod with the secret Running", podRunningReady(ns, "with-secret"))
	eventually(t, 10*time.Second, "Pulled event", hasEvent(ns, "with-secret", `Pulled: Successfully pulled image "`+image+`" in `))
	eventually(t, 10*time.Second, "the private image runs", func() (bool, error) {
		out, err := logOf(cfg.RootDir, ns, "with-secret", 0)
		return out == "private-v1\n", fmt.Errorf("log %q: %v", out, err)
	})
	if got := presented(); strings.Join(got, " ") != "robot:expired robot:s3cret" {
		t.Errorf("credentials presented %q, want the expired one, then the right one", got)
	}
	// On the node now, the image is for pods holding those credentials, as
	// upstream's kubelet keeps it (KubeletEnsureSecretPulledImages): one
	// with the right secret uses it without a pull; one without must ask
	// the registry (IfNotPresent) and is refused, or is told it is not
	// there (Never).
	again := pullPod(ns, "with-secret-again", "secret-node", image, corev1.PullIfNotPresent, "exec sleep 3600")
	again.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "regcred"}}
	createPod(t, again)
	createPod(t, pullPod(ns, "anonymous-ifnotpresent", "secret-node", image, corev1.PullIfNotPresent, "cat /version; exec sleep 3600"))
	createPod(t, pullPod(ns, "anonymous-never", "secret-node", image, corev1.PullNever, "cat /version; exec sleep 3600"))
	eventually(t, 30*time.Second, "the pod with the secret Running", podRunningReady(ns, "with-secret-again"))
	eventually(t, 10*time.Second, "present and accessible", hasEvent(ns, "with-secret-again",
		`Pulled: Container image "`+image+`" already present on machine and can be accessed by the pod`))
	if ok, _ := hasEvent(ns, "with-secret-again", "Pulling:")(); ok {
		t.Errorf("the pod holding the credentials pulled again: %q", podEvents(ns, "with-secret-again"))
	}
	eventually(t, 30*time.Second, "IfNotPresent without credentials asks the registry", hasEvent(ns, "anonymous-ifnotpresent",
		`Failed: Failed to pull image "`+image+`": failed to pull and unpack image "`+image+`": failed to resolve reference`))
	eventually(t, 30*time.Second, "Never without credentials: not present", hasEvent(ns, "anonymous-never",
		`ErrImageNeverPull: Container image "`+image+`" is not present with pull policy of Never`))
	for _, name := range []string{"anonymous-ifnotpresent", "anonymous-never"} {
		if out, _ := logOf(cfg.RootDir, ns, name, 0); out != "" {
			t.Errorf("%s ran the private image: %q", name, out)
		}
	}

	// The pod without them still cannot pull (Always asks the registry).
	p, _ := getPod(ns, "anonymous")
	if p.Status.Phase != corev1.PodPending {
		t.Errorf("the pod without credentials is %s: %+v", p.Status.Phase, p.Status.ContainerStatuses)
	}
	// Nor can a new one now that the node holds the image, with the
	// registry mirrored by the node (its mirror asked first, as for
	// docker.io): the mirror does not hand out what the registry gave only
	// for credentials.
	if err := os.WriteFile(filepath.Join(hostsDir, "hosts.toml"), []byte(fmt.Sprintf(`server = "https://example.test"

[host."http://%s"]
  capabilities = ["pull", "resolve"]

[host.%q]
  capabilities = ["pull", "resolve"]
`, cfg.RegistryMirrorAddress, srv.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	createPod(t, pullPod(ns, "anonymous-after", "secret-node", image, corev1.PullAlways, "cat /version; exec sleep 3600"))
	eventually(t, 30*time.Second, "Failed event without credentials, the image on the node", hasEvent(ns, "anonymous-after",
		`Failed: Failed to pull image "`+image+`": failed to pull and unpack image "`+image+`": failed to resolve reference`))
	eventually(t, 10*time.Second, "ErrImagePull or back-off", func() (bool, error) {
		if ok, _ := waitingReason(ns, "anonymous-after", "ErrImagePull")(); ok {
			return true, nil
		}
		return waitingReason(ns, "anonymous-after", "ImagePullBackOff")()
	})
	if out, _ := logOf(cfg.RootDir, ns, "anonymous-after", 0); out != "" {
		t.Errorf("the pod without credentials ran the private image: %q", out)
	}
}

// loopbackAddress is a free 127.0.0.1 host:port.
func loopbackAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
