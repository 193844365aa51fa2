//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
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

// lockFile opens (creating) and exclusively locks the lock file at path.
func lockFile(exp, path string) (*os.File, error) {
	lf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", exp, err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil && strings.TrimSpace(string(b)) != "" {
			owner = "process " + strings.TrimSpace(string(b))
		}
		_ = lf.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Path: exp, Owner: owner}
		}
		return nil, fmt.Errorf("locking %s: %w", exp, err)
	}
	return lf, nil
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
