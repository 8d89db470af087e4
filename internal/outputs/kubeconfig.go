package outputs

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteKubeconfig writes the stack's kubeconfig to path with mode 0600, replacing the
// file at once (a reader never sees half of it) and tightening the mode of one that was
// there.
func (s *Stack) WriteKubeconfig(path string) error {
	if err := s.Require("kubeconfig"); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".lamina-kubeconfig-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing left to remove
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.WriteString(s.Kubeconfig); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
