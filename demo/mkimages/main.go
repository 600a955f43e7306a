// Command mkimages writes the seed session's demo images as OCI image-layout
// tarballs, one per image, from statically linked binaries that `make images`
// builds first. The node agent imports every tarball in its images directory
// at start, so `image: kubeseed/echo:latest` runs with no registry.
//
//	mkimages -out bin/images -echo bin/demo/echo -echo-patched bin/demo/echo-patched -nginx-proxy bin/demo/nginx-proxy -incluster bin/demo/incluster
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kubeseed/kubeseed/kubelet/images"
)

func main() {
	out := flag.String("out", "bin/images", "directory the tarballs are written to")
	echo := flag.String("echo", "", "static echo binary (kubeseed/echo:latest)")
	patched := flag.String("echo-patched", "", "static echo binary of the patched variant (kubeseed/echo:patched)")
	proxy := flag.String("nginx-proxy", "", "static reverse proxy binary (kubeseed/nginx-proxy:latest)")
	incluster := flag.String("incluster", "", "static in-cluster API client binary (kubeseed/incluster:latest)")
	flag.Parse()
	if err := run(*out, []demoImage{
		{file: "echo.tar", name: "docker.io/kubeseed/echo:latest", binary: *echo, path: "usr/local/bin/echo-server"},
		{file: "echo-patched.tar", name: "docker.io/kubeseed/echo:patched", binary: *patched, path: "usr/local/bin/echo-server"},
		{file: "nginx-proxy.tar", name: "docker.io/kubeseed/nginx-proxy:latest", binary: *proxy, path: "usr/local/bin/nginx-proxy"},
		{file: "incluster.tar", name: "docker.io/kubeseed/incluster:latest", binary: *incluster, path: "usr/local/bin/incluster"},
	}); err != nil {
		fmt.Fprintln(os.Stderr, "mkimages:", err)
		os.Exit(1)
	}
}

// demoImage is one image: a single binary on top of the busybox userland,
// so that `kubectl exec -it ... -- sh` works in the demo pods as it does in
// the seed session's images.
type demoImage struct {
	file, name, binary, path string
}

func run(out string, imgs []demoImage) error {
	base, err := images.Busybox("")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, d := range imgs {
		if d.binary == "" {
			return fmt.Errorf("no binary for %s", d.name)
		}
		img := images.Image{
			Name:       d.name,
			Files:      append(append([]images.File{}, base.Files...), images.File{Path: "usr/local", Dir: true}, images.File{Path: "usr/local/bin", Dir: true}, images.File{Path: d.path, HostPath: d.binary, Mode: 0o755}),
			Entrypoint: []string{"/" + d.path},
			Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"},
		}
		var buf bytes.Buffer
		if err := images.WriteOCILayout(&buf, img); err != nil {
			return fmt.Errorf("%s: %w", d.name, err)
		}
		// Write only on change: the tarballs are reproducible, and an
		// unchanged file keeps make's timestamps meaningful.
		dst := filepath.Join(out, d.file)
		if old, err := os.ReadFile(dst); err == nil && bytes.Equal(old, buf.Bytes()) {
			continue
		}
		if err := os.WriteFile(dst+".tmp", buf.Bytes(), 0o644); err != nil {
			return err
		}
		if err := os.Rename(dst+".tmp", dst); err != nil {
			return err
		}
		fmt.Println("wrote", dst, "("+d.name+")")
	}
	return nil
}
