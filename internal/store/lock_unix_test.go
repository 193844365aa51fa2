//go:build unix

package store

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// The original left nothing beside experiment.yaml; neither does a run.
func TestUnlockRemovesLockFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := NewFile(dir)
	unlock, err := f.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.Path + ".lock"); err != nil {
		t.Fatalf("lock file while locked: %v", err)
	}
	if _, err := NewFile(dir).Lock(); !errors.Is(err, ErrLocked) {
		t.Errorf("second lock while held: %v, want ErrLocked", err)
	}
	unlock()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind after unlock: %v", entries)
	}
	unlock2, err := f.Lock()
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

// A process that opened the lock file just before its holder removed it
// must not believe it holds the lock: it locks the file now at the path.
func TestLockOfRemovedFileIsNotHeld(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := NewFile(dir)
	path := f.Path + ".lock"
	// the file a slow locker opened, then removed by its holder's unlock
	stale, err := lockFile(f.Path, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if current(stale, path) {
		t.Fatal("a removed lock file counts as current")
	}
	_ = stale.Close()
	// a new holder at the path excludes everyone
	unlock, err := f.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := NewFile(dir).Lock(); !errors.Is(err, ErrLocked) {
		t.Errorf("lock while held: %v, want ErrLocked", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "experiment.yaml.lock")); err != nil {
		t.Errorf("lock file: %v", err)
	}
}
