package volumes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Manager sets up and removes pod volumes.
type Manager struct {
	client  kubernetes.Interface
	rootDir string

	// Refresh is how often projected contents are re-read from the API
	// for a running pod (default 10 s); in between, Setup is a map lookup.
	Refresh time.Duration

	mu     sync.Mutex
	tokens map[string]token
	synced map[types.UID]synced
}

type synced struct {
	at    time.Time
	paths map[string]string
}

type token struct {
	value   string
	refresh time.Time
}

// New returns a Manager keeping volumes under rootDir/pods.
func New(client kubernetes.Interface, rootDir string) *Manager {
	return &Manager{client: client, rootDir: rootDir, Refresh: 10 * time.Second, tokens: map[string]token{}, synced: map[types.UID]synced{}}
}

// Dir is where the pod's volume lives on the node.
func (m *Manager) Dir(uid types.UID, name string) string {
	return filepath.Join(m.rootDir, "pods", string(uid), "volumes", name)
}

// Setup makes every volume of pod exist with current contents and returns
// the host path of each by name. It runs on every sync, which is how
// configMap, secret and token updates reach running pods.
func (m *Manager) Setup(ctx context.Context, pod *corev1.Pod) (map[string]string, error) {
	m.mu.Lock()
	last, ok := m.synced[pod.UID]
	m.mu.Unlock()
	if ok && time.Since(last.at) < m.Refresh {
		return last.paths, nil
	}
	paths := map[string]string{}
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		dir := m.Dir(pod.UID, v.Name)
		var err error
		switch {
		case v.HostPath != nil:
			err = setupHostPath(v.HostPath)
			dir = v.HostPath.Path
		case v.EmptyDir != nil:
			err = setupEmptyDir(dir, v.EmptyDir)
		case v.ConfigMap != nil || v.Secret != nil || v.DownwardAPI != nil || v.Projected != nil:
			var files map[string]File
			if files, err = m.project(ctx, pod, v); err == nil {
				_, err = WriteAtomic(dir, files)
			}
		default:
			// persistentVolumeClaim and others arrive with later issues: an
			// empty directory keeps the container startable meanwhile.
			err = os.MkdirAll(dir, 0o755)
		}
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		paths[v.Name] = dir
	}
	m.mu.Lock()
	m.synced[pod.UID] = synced{at: time.Now(), paths: paths}
	m.mu.Unlock()
	return paths, nil
}

func setupHostPath(hp *corev1.HostPathVolumeSource) error {
	t := corev1.HostPathUnset
	if hp.Type != nil {
		t = *hp.Type
	}
	fi, err := os.Stat(hp.Path)
	switch t {
	case corev1.HostPathDirectoryOrCreate:
		if os.IsNotExist(err) {
			return os.MkdirAll(hp.Path, 0o755)
		}
	case corev1.HostPathFileOrCreate:
		if os.IsNotExist(err) {
			if err := os.MkdirAll(filepath.Dir(hp.Path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(hp.Path, os.O_CREATE, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
	case corev1.HostPathDirectory:
		if err != nil || !fi.IsDir() {
			return fmt.Errorf("hostPath type check failed: %s is not a directory", hp.Path)
		}
	case corev1.HostPathFile:
		if err != nil || !fi.Mode().IsRegular() {
			return fmt.Errorf("hostPath type check failed: %s is not a file", hp.Path)
		}
	case corev1.HostPathSocket:
		if err != nil || fi.Mode()&os.ModeSocket == 0 {
			return fmt.Errorf("hostPath type check failed: %s is not a socket file", hp.Path)
		}
	}
	return nil
}

func setupEmptyDir(dir string, ed *corev1.EmptyDirVolumeSource) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	if ed.Medium != corev1.StorageMediumMemory {
		return os.Chmod(dir, 0o777)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil && st.Type == unix.TMPFS_MAGIC {
		return nil
	}
	opts := "mode=0777"
	if ed.SizeLimit != nil && !ed.SizeLimit.IsZero() {
		opts += ",size=" + strconv.FormatInt(ed.SizeLimit.Value(), 10)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mounting tmpfs: %w", err)
	}
	return nil
}

// Teardown unmounts what Setup mounted and removes the pod's volumes.
func (m *Manager) Teardown(uid types.UID) error {
	base := filepath.Join(m.rootDir, "pods", string(uid), "volumes")
	entries, err := os.ReadDir(base)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		dir := filepath.Join(base, e.Name())
		var st unix.Statfs_t
		if unix.Statfs(dir, &st) == nil && st.Type == unix.TMPFS_MAGIC {
			if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("unmounting %s: %w", dir, err)
			}
		}
	}
	m.mu.Lock()
	delete(m.synced, uid)
	for k := range m.tokens {
		if len(k) > len(uid) && k[:len(uid)] == string(uid) {
			delete(m.tokens, k)
		}
	}
	m.mu.Unlock()
	return os.RemoveAll(base)
}

func mode(def *int32, item *int32) os.FileMode {
	switch {
	case item != nil:
		return os.FileMode(*item)
	case def != nil:
		return os.FileMode(*def)
	}
	return 0o644
}

// ProjectKeys maps data to files: every key, or only the listed items at
// their paths; a listed key that is missing is an error unless optional.
func ProjectKeys(data map[string][]byte, items []corev1.KeyToPath, defaultMode *int32, optional bool) (map[string]File, error) {
	files := map[string]File{}
	if len(items) == 0 {
		for k, v := range data {
			files[k] = File{Data: v, Mode: mode(defaultMode, nil)}
		}
		return files, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("configmap/secret references non-existent key %q", it.Key)
		}
		files[it.Path] = File{Data: v, Mode: mode(defaultMode, it.Mode)}
	}
	return files, nil
}

func (m *Manager) configMapData(ctx context.Context, ns, name string, optional *bool) (map[string][]byte, error) {
	cm, err := m.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional != nil && *optional {
		return map[string][]byte{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("configmap %q: %w", name, err)
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return data, nil
}

func (m *Manager) secretData(ctx context.Context, ns, name string, optional *bool) (map[string][]byte, error) {
	s, err := m.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) && optional != nil && *optional {
		return map[string][]byte{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secret %q: %w", name, err)
	}
	return s.Data, nil
}

func (m *Manager) project(ctx context.Context, pod *corev1.Pod, v *corev1.Volume) (map[string]File, error) {
	switch {
	case v.ConfigMap != nil:
		data, err := m.configMapData(ctx, pod.Namespace, v.ConfigMap.Name, v.ConfigMap.Optional)
		if err != nil {
			return nil, err
		}
		return ProjectKeys(data, v.ConfigMap.Items, v.ConfigMap.DefaultMode, v.ConfigMap.Optional != nil && *v.ConfigMap.Optional)
	case v.Secret != nil:
		data, err := m.secretData(ctx, pod.Namespace, v.Secret.SecretName, v.Secret.Optional)
		if err != nil {
			return nil, err
		}
		return ProjectKeys(data, v.Secret.Items, v.Secret.DefaultMode, v.Secret.Optional != nil && *v.Secret.Optional)
	case v.DownwardAPI != nil:
		return downwardAPIFiles(pod, v.DownwardAPI.Items, v.DownwardAPI.DefaultMode)
	}
	files := map[string]File{}
	def := v.Projected.DefaultMode
	for i, src := range v.Projected.Sources {
		var part map[string]File
		var err error
		switch {
		case src.ConfigMap != nil:
			var data map[string][]byte
			if data, err = m.configMapData(ctx, pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Optional); err == nil {
				part, err = ProjectKeys(data, src.ConfigMap.Items, def, src.ConfigMap.Optional != nil && *src.ConfigMap.Optional)
			}
		case src.Secret != nil:
			var data map[string][]byte
			if data, err = m.secretData(ctx, pod.Namespace, src.Secret.Name, src.Secret.Optional); err == nil {
				part, err = ProjectKeys(data, src.Secret.Items, def, src.Secret.Optional != nil && *src.Secret.Optional)
			}
		case src.DownwardAPI != nil:
			part, err = downwardAPIFiles(pod, src.DownwardAPI.Items, def)
		case src.ServiceAccountToken != nil:
			var tok string
			if tok, err = m.token(ctx, pod, v.Name, i, src.ServiceAccountToken); err == nil {
				part = map[string]File{src.ServiceAccountToken.Path: {Data: []byte(tok), Mode: mode(def, nil)}}
			}
		}
		if err != nil {
			return nil, err
		}
		for k, f := range part {
			files[k] = f
		}
	}
	return files, nil
}

func downwardAPIFiles(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, def *int32) (map[string]File, error) {
	files := map[string]File{}
	for _, it := range items {
		var val string
		if it.FieldRef != nil {
			switch it.FieldRef.FieldPath {
			case "metadata.labels":
				val = formatMap(pod.Labels)
			case "metadata.annotations":
				val = formatMap(pod.Annotations)
			case "metadata.name":
				val = pod.Name
			case "metadata.namespace":
				val = pod.Namespace
			case "metadata.uid":
				val = string(pod.UID)
			default:
				return nil, fmt.Errorf("unsupported downwardAPI fieldRef %q", it.FieldRef.FieldPath)
			}
		}
		files[it.Path] = File{Data: []byte(val), Mode: mode(def, it.Mode)}
	}
	return files, nil
}

// formatMap renders labels or annotations as upstream does: sorted
// key="value" lines.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out string
	for _, k := range keys {
		out += k + "=" + strconv.Quote(m[k]) + "\n"
	}
	return out
}

// token returns a bound service account token for the pod, asking the API
// for a new one when 80% of the last one's lifetime has passed.
func (m *Manager) token(ctx context.Context, pod *corev1.Pod, vol string, idx int, src *corev1.ServiceAccountTokenProjection) (string, error) {
	key := fmt.Sprintf("%s/%s/%d", pod.UID, vol, idx)
	m.mu.Lock()
	t, ok := m.tokens[key]
	m.mu.Unlock()
	if ok && time.Now().Before(t.refresh) {
		return t.value, nil
	}
	exp := int64(3600)
	if src.ExpirationSeconds != nil {
		exp = *src.ExpirationSeconds
	}
	var aud []string
	if src.Audience != "" {
		aud = []string{src.Audience}
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr, err := m.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			Audiences: aud, ExpirationSeconds: &exp,
			BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting token of service account %q: %w", sa, err)
	}
	life := time.Until(tr.Status.ExpirationTimestamp.Time)
	m.mu.Lock()
	m.tokens[key] = token{value: tr.Status.Token, refresh: time.Now().Add(life * 8 / 10)}
	m.mu.Unlock()
	return tr.Status.Token, nil
}
