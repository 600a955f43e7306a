package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

// File is one entry of an image layer. Exactly one of Content, HostPath or
// Link is used; an entry whose Dir is true is a directory.
type File struct {
	// Path inside the image, without a leading slash (e.g. "bin/busybox").
	Path string
	// Mode holds the permission bits.
	Mode os.FileMode
	// Dir makes the entry a directory.
	Dir bool
	// Content is the file's bytes.
	Content []byte
	// HostPath names a host file whose bytes are copied.
	HostPath string
	// Link makes the entry a symbolic link to this target.
	Link string
}

// Image describes a single-layer image to build.
type Image struct {
	// Name is the full reference, e.g. docker.io/library/busybox:latest.
	Name string
	// Files make up the one layer.
	Files []File
	// Entrypoint, Cmd, Env and WorkingDir go into the image config.
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
}

const (
	mediaTypeLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
	mediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	mediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	// annotationImageName is what containerd's importer reads to name the
	// image it imports.
	annotationImageName = "io.containerd.image.name"
	annotationRefName   = "org.opencontainers.image.ref.name"
)

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// epoch keeps builds reproducible: the same files give the same digests.
var epoch = time.Unix(0, 0).UTC()

// WriteOCILayout writes img as an OCI image-layout tarball to w.
func WriteOCILayout(w io.Writer, img Image) error {
	if img.Name == "" {
		return fmt.Errorf("image name is empty")
	}
	layer, diffID, err := buildLayer(img.Files)
	if err != nil {
		return fmt.Errorf("building layer of %s: %w", img.Name, err)
	}
	env := img.Env
	if len(env) == 0 {
		env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	config, err := json.Marshal(map[string]any{
		"created":      epoch.Format(time.RFC3339),
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config": map[string]any{
			"Entrypoint": img.Entrypoint,
			"Cmd":        img.Cmd,
			"Env":        env,
			"WorkingDir": img.WorkingDir,
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	})
	if err != nil {
		return err
	}
	layerDesc := descriptor{MediaType: mediaTypeLayer, Digest: digestOf(layer), Size: int64(len(layer))}
	configDesc := descriptor{MediaType: mediaTypeConfig, Digest: digestOf(config), Size: int64(len(config))}
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaTypeManifest,
		"config":        configDesc,
		"layers":        []descriptor{layerDesc},
	})
	if err != nil {
		return err
	}
	manifestDesc := descriptor{
		MediaType: mediaTypeManifest, Digest: digestOf(manifest), Size: int64(len(manifest)),
		Annotations: map[string]string{annotationImageName: img.Name, annotationRefName: refTag(img.Name)},
		Platform:    &platform{Architecture: runtime.GOARCH, OS: "linux"},
	}
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaTypeIndex,
		"manifests":     []descriptor{manifestDesc},
	})
	if err != nil {
		return err
	}

	tw := tar.NewWriter(w)
	put := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: dir, Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir}); err != nil {
			return err
		}
	}
	for _, blob := range [][]byte{layer, config, manifest} {
		if err := put("blobs/sha256/"+strings.TrimPrefix(digestOf(blob), "sha256:"), blob); err != nil {
			return err
		}
	}
	if err := put("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	if err := put("index.json", index); err != nil {
		return err
	}
	return tw.Close()
}

// refTag returns the tag of a reference, which OCI layouts record as the
// ref name.
func refTag(name string) string {
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		return name[i+1:]
	}
	return "latest"
}

// buildLayer returns the gzipped layer and the digest of its uncompressed
// tar (the diff ID the config lists).
func buildLayer(files []File) ([]byte, string, error) {
	sorted := append([]File(nil), files...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, f := range sorted {
		name := strings.TrimPrefix(f.Path, "/")
		hdr := &tar.Header{Name: name, Mode: int64(f.Mode.Perm()), ModTime: epoch}
		var data []byte
		switch {
		case f.Dir:
			hdr.Typeflag = tar.TypeDir
			hdr.Name = strings.TrimSuffix(name, "/") + "/"
			if hdr.Mode == 0 {
				hdr.Mode = 0o755
			}
		case f.Link != "":
			hdr.Typeflag = tar.TypeSymlink
			hdr.Linkname = f.Link
			hdr.Mode = 0o777
		default:
			hdr.Typeflag = tar.TypeReg
			data = f.Content
			if f.HostPath != "" {
				b, err := os.ReadFile(f.HostPath)
				if err != nil {
					return nil, "", err
				}
				data = b
			}
			hdr.Size = int64(len(data))
			if hdr.Mode == 0 {
				hdr.Mode = 0o644
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, "", err
		}
		if len(data) > 0 {
			if _, err := tw.Write(data); err != nil {
				return nil, "", err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.ModTime = epoch
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return gz.Bytes(), digestOf(raw.Bytes()), nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
