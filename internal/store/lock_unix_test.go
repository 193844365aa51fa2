//go:build unix

package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
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

// LoadIdle tells an experiment no run holds (its loop stopped with its
// process) from one a run holds, and says not idle when it cannot tell.
func TestLoadIdle(t *testing.T) {
	t.Parallel()
	const doc = "spec:\n- run: \"true\"\nresult:\n  startTime: 2026-11-27T10:00:00Z\n  numLoops: 1\n  numCompletedTasks: 0\n  tasks: [{name: run, state: running}]\n"
	for _, tt := range []struct {
		name string
		hold func(t *testing.T, f *File) // what holds (or held) the lock
		idle bool
	}{
		{"no lock file (its holder's unlock removed it)", func(*testing.T, *File) {}, true},
		{"a lock file its killed holder left", func(t *testing.T, f *File) {
			if err := os.WriteFile(f.Path+".lock", []byte("12345\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"a run holds it", func(t *testing.T, f *File) {
			unlock, err := f.Lock()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(unlock)
		}, false},
		{"a link at the lock path", func(t *testing.T, f *File) {
			if err := os.Symlink(filepath.Join(t.TempDir(), "elsewhere"), f.Path+".lock"); err != nil {
				t.Fatal(err)
			}
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFile(t.TempDir())
			if err := os.WriteFile(f.Path, []byte(doc), 0o644); err != nil {
				t.Fatal(err)
			}
			tt.hold(t, f)
			exp, idle, err := f.LoadIdle(context.Background())
			if err != nil || exp.Result.NumLoops != 1 || idle != tt.idle {
				t.Errorf("idle %v (%v), want %v", idle, err, tt.idle)
			}
		})
	}
}

// A run that starts while LoadIdle looks at the lock (holding it shared for
// a moment) waits for it rather than report the experiment in use; a lock
// held longer than that is in use.
func TestLockWaitsForAProbe(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		hold time.Duration
		want error
	}{
		{"a moment", 20 * time.Millisecond, nil},
		{"longer than a probe", 4 * probeWait, ErrLocked},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFile(t.TempDir())
			lf, err := os.OpenFile(f.Path+".lock", os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = lf.Close() }()
			if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
				t.Fatal(err)
			}
			time.AfterFunc(tt.hold, func() { _ = syscall.Flock(int(lf.Fd()), syscall.LOCK_UN) })
			unlock, err := f.Lock()
			if !errors.Is(err, tt.want) {
				t.Fatalf("lock: %v, want %v", err, tt.want)
			}
			if err == nil {
				unlock()
			}
		})
	}
}
