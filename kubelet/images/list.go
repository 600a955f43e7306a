package images

import (
	"context"
	"sort"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/distribution/reference"
)

// Info is one image of the node as `kubeseed image ls` shows it.
type Info struct {
	// Name is the full reference, e.g. docker.io/library/busybox:latest.
	Name string
	// Repository and Tag split Name (Tag is empty for a name@digest).
	Repository, Tag string
	// Digest is the image's manifest (or index) digest.
	Digest string
	// Size is the size of its content for this platform, in bytes.
	Size int64
}

// List returns the images of the client's namespace, by name.
func List(ctx context.Context, client *containerd.Client) ([]Info, error) {
	imgs, err := client.ImageService().List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(imgs))
	for _, img := range imgs {
		info := Info{Name: img.Name, Repository: img.Name, Digest: img.Target.Digest.String()}
		if named, err := reference.ParseNormalizedNamed(img.Name); err == nil {
			info.Repository = named.Name()
			if t, ok := named.(reference.Tagged); ok {
				info.Tag = t.Tag()
			}
		}
		info.Size, _ = containerd.NewImage(client, img).Size(ctx)
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
