package podworker

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"

	kruntime "github.com/kubeseed/kubeseed/kubelet/runtime"
)

// ContainerMounts resolves a container's volumeMounts against the host
// paths of the pod's volumes; subPath mounts a directory (created if
// missing) or file inside the volume.
func ContainerMounts(c *corev1.Container, volumePaths map[string]string) ([]kruntime.Mount, error) {
	var out []kruntime.Mount
	for _, vm := range c.VolumeMounts {
		host, ok := volumePaths[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volume %q of mount %s not found in the pod", vm.Name, vm.MountPath)
		}
		if vm.SubPath != "" {
			clean := filepath.Clean(vm.SubPath)
			if filepath.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
				return nil, fmt.Errorf("subPath %q must be a relative path inside the volume", vm.SubPath)
			}
			host = filepath.Join(host, clean)
			if _, err := os.Lstat(host); os.IsNotExist(err) {
				if err := os.MkdirAll(host, 0o755); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, kruntime.Mount{HostPath: host, ContainerPath: vm.MountPath, ReadOnly: vm.ReadOnly})
	}
	return out, nil
}
