package volumes

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File is one projected file: a relative path, its content and mode.
type File struct {
	Data []byte
	Mode os.FileMode
}

const dataDirName = "..data"

// WriteAtomic makes dir hold exactly files, swapping them in at once. It
// reports whether anything changed.
func WriteAtomic(dir string, files map[string]File) (bool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	if same(dir, files) {
		return false, nil
	}
	for p := range files {
		if strings.HasPrefix(p, "..") || strings.Contains(p, "/../") || filepath.IsAbs(p) {
			return false, fmt.Errorf("invalid projected path %q", p)
		}
	}
	tsDir, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, err
	}
	if err := os.Chmod(tsDir, 0o755); err != nil {
		return false, err
	}
	for p, f := range files {
		full := filepath.Join(tsDir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return false, err
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(full, f.Data, mode); err != nil {
			return false, err
		}
		if err := os.Chmod(full, mode); err != nil {
			return false, err
		}
	}
	// Swap ..data to the new directory with a rename, which is atomic.
	tmpLink := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(tsDir), tmpLink); err != nil {
		return false, err
	}
	old, _ := os.Readlink(filepath.Join(dir, dataDirName))
	if err := os.Rename(tmpLink, filepath.Join(dir, dataDirName)); err != nil {
		return false, err
	}
	// Top-level entries point through ..data.
	want := map[string]bool{}
	for p := range files {
		top := strings.SplitN(p, "/", 2)[0]
		want[top] = true
		link := filepath.Join(dir, top)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join(dataDirName, top) {
			continue
		}
		_ = os.RemoveAll(link)
		if err := os.Symlink(filepath.Join(dataDirName, top), link); err != nil {
			return false, err
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "..") || want[n] {
			continue
		}
		_ = os.RemoveAll(filepath.Join(dir, n))
	}
	if old != "" && old != filepath.Base(tsDir) {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return true, nil
}

// same reports whether dir already holds exactly files.
func same(dir string, files map[string]File) bool {
	data := filepath.Join(dir, dataDirName)
	if _, err := os.Stat(data); err != nil {
		return false
	}
	var have []string
	_ = filepath.Walk(data+"/", func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(data, p)
			have = append(have, rel)
		}
		return nil
	})
	if len(have) != len(files) {
		return false
	}
	sort.Strings(have)
	for _, p := range have {
		f, ok := files[p]
		if !ok {
			return false
		}
		b, err := os.ReadFile(filepath.Join(data, p))
		if err != nil || !bytes.Equal(b, f.Data) {
			return false
		}
	}
	return true
}
