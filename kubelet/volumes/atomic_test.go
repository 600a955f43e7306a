package volumes

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteAtomicSwapsContent(t *testing.T) {
	dir := t.TempDir()
	changed, err := WriteAtomic(dir, map[string]File{"a": {Data: []byte("1")}, "sub/b": {Data: []byte("2")}})
	if err != nil || !changed {
		t.Fatalf("first write: %v %v", changed, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "sub", "b")); string(b) != "2" {
		t.Fatalf("sub/b = %q", b)
	}
	if changed, _ := WriteAtomic(dir, map[string]File{"a": {Data: []byte("1")}, "sub/b": {Data: []byte("2")}}); changed {
		t.Error("same content reported as a change")
	}
	if _, err := WriteAtomic(dir, map[string]File{"a": {Data: []byte("new")}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a")); string(b) != "new" {
		t.Errorf("a = %q after update", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Error("removed key still present")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 { // ..data, the timestamped dir, a
		t.Errorf("entries left: %v", entries)
	}
	if _, err := WriteAtomic(dir, map[string]File{"../escape": {}}); err == nil {
		t.Error("path escaping the volume accepted")
	}
}
