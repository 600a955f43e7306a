package images

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
)

// Import loads an OCI image-layout (or docker-archive) tarball into
// containerd and unpacks every image it names into snapshotter, so that
// containers can be created from it at once. It returns the image names.
// An imported image carries no labels, even over an image of the same name
// that had some: what a user imports is the node's to serve (a label
// registry.LabelPulledWithCredentials from an earlier pull is dropped).
func Import(ctx context.Context, client *containerd.Client, r io.Reader, snapshotter string) ([]string, error) {
	imgs, err := client.Import(ctx, r, containerd.WithImageLabels(map[string]string{}))
	if err != nil {
		return nil, fmt.Errorf("importing image tarball: %w", err)
	}
	var names []string
	for _, img := range imgs {
		image := containerd.NewImage(client, img)
		if err := image.Unpack(ctx, snapshotter); err != nil {
			return nil, fmt.Errorf("unpacking %s: %w", img.Name, err)
		}
		names = append(names, img.Name)
	}
	return names, nil
}

// ImportFile imports the tarball at path.
func ImportFile(ctx context.Context, client *containerd.Client, path, snapshotter string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := Import(ctx, client, f, snapshotter)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return names, nil
}

// ImportDir imports every *.tar file in dir (a missing dir is not an error),
// in name order.
func ImportDir(ctx context.Context, client *containerd.Client, dir, snapshotter string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var names []string
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".tar") {
			continue
		}
		n, err := ImportFile(ctx, client, filepath.Join(dir, e.Name()), snapshotter)
		if err != nil {
			return names, err
		}
		names = append(names, n...)
	}
	return names, nil
}

// EnsureBusybox imports the busybox image built from the host's static
// busybox unless an image of that name is already present. It returns
// whether it imported one.
func EnsureBusybox(ctx context.Context, client *containerd.Client, binary, snapshotter string) (bool, error) {
	if _, err := client.GetImage(ctx, BusyboxName); err == nil {
		return false, nil
	} else if !errdefs.IsNotFound(err) {
		return false, err
	}
	img, err := Busybox(binary)
	if err != nil {
		return false, err
	}
	var buf bytes.Buffer
	if err := WriteOCILayout(&buf, img); err != nil {
		return false, err
	}
	if _, err := Import(ctx, client, &buf, snapshotter); err != nil {
		return false, err
	}
	return true, nil
}
