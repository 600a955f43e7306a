package images

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

func TestWriteOCILayoutIsReproducibleAndNamed(t *testing.T) {
	img := Image{Name: "example.com/hello:v1", Files: []File{
		{Path: "etc", Dir: true},
		{Path: "etc/greeting", Content: []byte("hello\n")},
		{Path: "bin/sh", Link: "busybox"},
	}, Cmd: []string{"cat", "/etc/greeting"}}
	var a, b bytes.Buffer
	if err := WriteOCILayout(&a, img); err != nil {
		t.Fatal(err)
	}
	if err := WriteOCILayout(&b, img); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two builds of the same image differ")
	}
	files := map[string][]byte{}
	tr := tar.NewReader(&a)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		files[hdr.Name] = data
	}
	var index struct {
		Manifests []descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(files["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 1 || index.Manifests[0].Annotations[annotationImageName] != img.Name ||
		index.Manifests[0].Annotations[annotationRefName] != "v1" {
		t.Fatalf("index manifests = %+v", index.Manifests)
	}
	if _, ok := files["blobs/sha256/"+strings.TrimPrefix(index.Manifests[0].Digest, "sha256:")]; !ok {
		t.Fatal("manifest blob missing")
	}
	if _, ok := files["oci-layout"]; !ok {
		t.Fatal("oci-layout missing")
	}
}

func TestRefTag(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/library/busybox:latest": "latest",
		"localhost:5000/app":               "latest",
		"localhost:5000/app:1.2":           "1.2",
	} {
		if got := refTag(in); got != want {
			t.Errorf("refTag(%q) = %q, want %q", in, got, want)
		}
	}
}
