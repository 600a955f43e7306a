package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/version"
)

// Config configures the pod network of one node.
type Config struct {
	// PodCIDR is the range pod addresses come from, e.g. 10.244.0.0/24.
	PodCIDR string
	// Bridge is the host bridge pods attach to (default kubeseed0).
	Bridge string
	// StateDir holds the pinned namespaces, the IPAM allocations and the
	// libcni cache.
	StateDir string
	// PluginDirs are searched for CNI plugins (default /usr/lib/cni and
	// /opt/cni/bin).
	PluginDirs []string
}

// Manager sets up and tears down pod networks.
type Manager struct {
	cfg    Config
	cni    *libcni.CNIConfig
	list   *libcni.NetworkConfigList
	lo     *libcni.PluginConfig
	netnss string
}

// NetworkName is the CNI network name kubeseed's pods join.
const NetworkName = "kubeseed"

// New checks the configuration and the plugins and returns a Manager.
func New(cfg Config) (*Manager, error) {
	if cfg.Bridge == "" {
		cfg.Bridge = "kubeseed0"
	}
	if len(cfg.PluginDirs) == 0 {
		cfg.PluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}
	}
	if _, _, err := net.ParseCIDR(cfg.PodCIDR); err != nil {
		return nil, fmt.Errorf("pod CIDR %q: %w", cfg.PodCIDR, err)
	}
	if cfg.StateDir == "" {
		return nil, errors.New("network state directory is empty")
	}
	found := false
	for _, d := range cfg.PluginDirs {
		if _, err := os.Stat(filepath.Join(d, "bridge")); err == nil {
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("CNI bridge plugin not found in %s: install containernetworking-plugins", strings.Join(cfg.PluginDirs, ", "))
	}
	m := &Manager{cfg: cfg, netnss: filepath.Join(cfg.StateDir, "netns")}
	for _, d := range []string{m.netnss, filepath.Join(cfg.StateDir, "ipam"), filepath.Join(cfg.StateDir, "cache")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	conf, err := json.Marshal(bridgeConfList(cfg.Bridge, cfg.PodCIDR, filepath.Join(cfg.StateDir, "ipam")))
	if err != nil {
		return nil, err
	}
	if m.list, err = libcni.ConfListFromBytes(conf); err != nil {
		return nil, fmt.Errorf("parsing CNI config: %w", err)
	}
	if m.lo, err = libcni.NetworkPluginConfFromBytes([]byte(`{"cniVersion":"1.0.0","name":"lo","type":"loopback"}`)); err != nil {
		return nil, fmt.Errorf("parsing loopback config: %w", err)
	}
	// The exec is given here: libcni creates a missing one lazily on each
	// call, a data race when pods' networks are set up concurrently.
	exec := &invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: os.Stderr}, PluginDecoder: version.PluginDecoder{}}
	m.cni = libcni.NewCNIConfigWithCacheDir(cfg.PluginDirs, filepath.Join(cfg.StateDir, "cache"), exec)
	return m, nil
}

// bridgeConfList is the CNI network of a node. isGateway gives the bridge
// the first address so pods reach the node; ipMasq is off and no routes are
// handed out, so pods have no way off the node.
func bridgeConfList(bridge, cidr, ipamDir string) map[string]any {
	return map[string]any{
		"cniVersion": "1.0.0",
		"name":       NetworkName,
		"plugins": []any{map[string]any{
			"type":        "bridge",
			"bridge":      bridge,
			"isGateway":   true,
			"ipMasq":      false,
			"hairpinMode": true,
			"ipam": map[string]any{
				"type":    "host-local",
				"ranges":  []any{[]any{map[string]any{"subnet": cidr}}},
				"dataDir": ipamDir,
			},
		}},
	}
}

// NetNSPath is where the namespace of the pod with this UID is pinned.
func (m *Manager) NetNSPath(podUID string) string {
	return filepath.Join(m.netnss, podUID)
}

// Setup creates the pod's namespace (or reuses the pinned one) and attaches
// it to the bridge; it returns the pod's IP and the namespace path. It is
// idempotent: a pod already attached gets its cached address back.
func (m *Manager) Setup(ctx context.Context, podUID, namespace, name string) (net.IP, string, error) {
	path := m.NetNSPath(podUID)
	rt := m.runtimeConf(podUID, namespace, name, path)
	if isNetNS(path) {
		if res, err := m.cni.GetNetworkListCachedResult(m.list, rt); err == nil && res != nil {
			if ip, err := resultIP(res); err == nil {
				return ip, path, nil
			}
		}
	} else {
		os.Remove(path)
		if err := createNetNS(path); err != nil {
			return nil, "", err
		}
	}
	// lo is up since createNetNS.
	res, err := m.cni.AddNetworkList(ctx, m.list, rt)
	if err != nil {
		return nil, "", fmt.Errorf("CNI add for pod %s/%s: %w", namespace, name, err)
	}
	ip, err := resultIP(res)
	if err != nil {
		return nil, "", err
	}
	return ip, path, nil
}

// Teardown releases the pod's address and removes its namespace. Missing
// pieces are not errors, so it can run again after a partial teardown.
func (m *Manager) Teardown(ctx context.Context, podUID string) error {
	path := m.NetNSPath(podUID)
	nsPath := path
	if !isNetNS(path) {
		nsPath = ""
	}
	rt := m.runtimeConf(podUID, "", "", nsPath)
	if err := m.cni.DelNetworkList(ctx, m.list, rt); err != nil {
		return fmt.Errorf("CNI del for pod %s: %w", podUID, err)
	}
	if nsPath != "" {
		// Pods set up by agents that ran the loopback plugin have its
		// result cached: let it clean up after itself.
		if res, err := m.cni.GetNetworkCachedResult(m.lo, m.loConf(podUID, nsPath)); err == nil && res != nil {
			_ = m.cni.DelNetwork(ctx, m.lo, m.loConf(podUID, nsPath))
		}
	}
	return removeNetNS(path)
}

// PinnedPods lists the UIDs whose namespaces are pinned, so a restarted
// agent can tear down those of pods that are gone.
func (m *Manager) PinnedPods() ([]string, error) {
	entries, err := os.ReadDir(m.netnss)
	if err != nil {
		return nil, err
	}
	var uids []string
	for _, e := range entries {
		uids = append(uids, e.Name())
	}
	return uids, nil
}

func (m *Manager) runtimeConf(podUID, namespace, name, netns string) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: podUID, NetNS: netns, IfName: "eth0"}
	if name != "" {
		rt.Args = [][2]string{{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", namespace}, {"K8S_POD_NAME", name}, {"K8S_POD_INFRA_CONTAINER_ID", podUID}}
	}
	return rt
}

func (m *Manager) loConf(podUID, netns string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{ContainerID: podUID, NetNS: netns, IfName: "lo"}
}

func resultIP(res types.Result) (net.IP, error) {
	cur, err := current.NewResultFromResult(res)
	if err != nil {
		return nil, fmt.Errorf("reading CNI result: %w", err)
	}
	for _, ipc := range cur.IPs {
		if ipc.Address.IP.To4() != nil {
			return ipc.Address.IP, nil
		}
	}
	return nil, errors.New("CNI result has no IPv4 address")
}
