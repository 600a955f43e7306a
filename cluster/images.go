package cluster

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// stageImages copies the image tarballs of dirs into the node agent's
// import directory, which it loads at start. Copies, not links: the data
// dir keeps working after the build tree moves.
func stageImages(dirs []string, importDir string) error {
	for _, dir := range dirs {
		tars, err := filepath.Glob(filepath.Join(dir, "*.tar"))
		if err != nil {
			return err
		}
		if len(tars) == 0 {
			return fmt.Errorf("images dir %s holds no *.tar (make images builds them)", dir)
		}
		if err := os.MkdirAll(importDir, 0o700); err != nil {
			return err
		}
		for _, src := range tars {
			if err := copyIfChanged(src, filepath.Join(importDir, filepath.Base(src))); err != nil {
				return fmt.Errorf("staging image %s: %w", src, err)
			}
		}
	}
	return nil
}

func copyIfChanged(src, dst string) error {
	si, err := os.Stat(src)
	if err != nil {
		return err
	}
	if di, err := os.Stat(dst); err == nil && di.Size() == si.Size() && !di.ModTime().Before(si.ModTime()) {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst + ".tmp")
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(dst+".tmp", dst)
}
