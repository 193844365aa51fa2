//go:build unix

package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"iter8.tools/iter8/internal/inputs"
)

// Lock takes an exclusive lock on the experiment (a lock file next to it,
// holding the owner's process id) so that two runs on the same directory do
// not overwrite each other. The lock is released by unlock, which also
// removes the lock file (the original left nothing behind), or by the
// operating system when the process ends however it ends.
//
// Removing a lock file is safe because it is removed while still locked,
// and a process that locks a file checks that it is still the one at the
// path: one that locked a file just removed tries again on the new one.
//
// The lock file is opened without following symbolic links and must be a
// regular file: a planted link or device at the lock path is refused (bad
// input) before anything is truncated or written.
func (f *File) Lock() (unlock func(), err error) {
	path := f.Path + ".lock"
	for attempt := 0; ; attempt++ {
		lf, err := lockFile(f.Path, path)
		if err != nil {
			return nil, err
		}
		if current(lf, path) {
			_ = lf.Truncate(0)
			_, _ = lf.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
			return func() {
				if current(lf, path) {
					_ = os.Remove(path)
				}
				_ = syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
				_ = lf.Close()
			}, nil
		}
		// the holder removed the file between our open and our lock
		_ = lf.Close()
		if attempt == 100 {
			return nil, fmt.Errorf("locking %s: %s keeps being replaced", f.Path, path)
		}
	}
}

// lockFile opens (creating, never through a link) and exclusively locks the
// lock file at path; exp names the experiment in errors.
func lockFile(exp, path string) (*os.File, error) {
	lf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, inputs.Invalidf("locking %s: %s is a symbolic link: expected a regular file (remove it)", exp, path)
		}
		return nil, fmt.Errorf("locking %s: %w", exp, err)
	}
	if fi, err := lf.Stat(); err != nil || !fi.Mode().IsRegular() {
		_ = lf.Close()
		if err != nil {
			return nil, fmt.Errorf("locking %s: %w", exp, err)
		}
		return nil, inputs.Invalidf("locking %s: %s is a %s: expected a regular file (remove it)", exp, path, kind(fi.Mode()))
	}
	if err := flockEx(lf); err != nil {
		owner := "another process"
		if b, rerr := readOwner(lf); rerr == nil && strings.TrimSpace(b) != "" {
			owner = "process " + strings.TrimSpace(b)
		}
		_ = lf.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Path: exp, Owner: owner}
		}
		return nil, fmt.Errorf("locking %s: %w", exp, err)
	}
	return lf, nil
}

// probeWait is how long Lock waits for a lock held by another process
// before it reports the experiment in use: LoadIdle (through held) holds
// a shared lock for a moment to see that no run holds it, and a run
// starting then waits for it rather than fail.
const probeWait = 250 * time.Millisecond

// flockEx takes the exclusive lock on lf, waiting up to probeWait for a
// holder to let go.
func flockEx(lf *os.File) error {
	for start := time.Now(); ; time.Sleep(2 * time.Millisecond) {
		err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Since(start) >= probeWait {
			return err
		}
	}
}

// held reports whether a run holds the experiment's lock (see Lock), or
// true when it cannot tell. It tries a shared lock and lets go of it at
// once: a run that starts meanwhile waits for it (see probeWait). A lock
// file that is absent (removed by its holder's unlock) or that no process
// holds (its holder was killed) is free.
func (f *File) held() bool {
	path := f.Path + ".lock"
	lf, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		return true
	}
	defer func() { _ = lf.Close() }()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return true
	}
	// (a file its holder removed and a new run replaced: the new one is
	// not known to be free)
	free := current(lf, path)
	_ = syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	return !free
}

// current reports whether the open file lf is still the file at path.
func current(lf *os.File, path string) bool {
	held, err := lf.Stat()
	if err != nil {
		return false
	}
	named, err := os.Lstat(path)
	return err == nil && os.SameFile(held, named)
}

// readOwner reads the owner's process id from the open lock file (not by
// path: the path may have been replaced since it was opened).
func readOwner(lf *os.File) (string, error) {
	b := make([]byte, 32)
	n, err := lf.ReadAt(b, 0)
	if n > 0 {
		return string(b[:n]), nil
	}
	return "", err
}
