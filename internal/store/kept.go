package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeptDir is the folder beside experiment.yaml that holds the literal
// secrets iter8 took out of the values (chart.Keep), one 0600 file per
// secret, the folder 0700. experiment.yaml references each file.
const KeptDir = "experiment.secrets"

// WriteKept writes secrets into dir/experiment.secrets, one private file per
// key, and removes the files of an earlier experiment that no key names.
// With no secrets, it removes the folder's files (the folder, if empty).
func WriteKept(dir string, secrets map[string]string) error {
	return writeKept(dir, secrets, true)
}

// AddKept writes secrets into dir/experiment.secrets as WriteKept does, and
// leaves the other secrets kept there.
func AddKept(dir string, secrets map[string]string) error {
	return writeKept(dir, secrets, false)
}

func writeKept(dir string, secrets map[string]string, prune bool) error {
	kd := filepath.Join(dir, KeptDir)
	if len(secrets) > 0 {
		if err := os.Mkdir(kd, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("keeping secrets in %s: %w", kd, err)
		}
		fi, err := os.Lstat(kd)
		if err != nil {
			return fmt.Errorf("keeping secrets in %s: %w", kd, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("keeping secrets in %s: not a folder", kd)
		}
		if err := os.Chmod(kd, 0o700); err != nil {
			return fmt.Errorf("keeping secrets in %s: %w", kd, err)
		}
		for k, v := range secrets {
			if err := WritePrivate(filepath.Join(kd, k), []byte(v)); err != nil {
				return fmt.Errorf("keeping secrets: %w", err)
			}
		}
	}
	if !prune {
		return nil
	}
	entries, err := os.ReadDir(kd)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("keeping secrets in %s: %w", kd, err)
	}
	for _, e := range entries {
		if _, ok := secrets[e.Name()]; ok || e.IsDir() {
			continue
		}
		if err := os.Remove(filepath.Join(kd, e.Name())); err != nil {
			return fmt.Errorf("removing an old kept secret: %w", err)
		}
	}
	if len(secrets) == 0 {
		_ = os.Remove(kd) // only when empty
	}
	return nil
}
