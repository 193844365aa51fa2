//go:build unix

package store

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"iter8.tools/iter8/internal/inputs"
)

// Lock takes an exclusive lock on the experiment (a lock file next to it,
// holding the owner's process id) so that two runs on the same directory do
// not overwrite each other. The lock is released by unlock, or by the
// operating system when the process ends however it ends.
//
// The lock file is opened without following symbolic links and must be a
// regular file: a planted link or device at the lock path is refused (bad
// input) before anything is truncated or written.
func (f *File) Lock() (unlock func(), err error) {
	path := f.Path + ".lock"
	lf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return nil, inputs.Invalidf("locking %s: %s is a symbolic link: expected a regular file (remove it)", f.Path, path)
		}
		return nil, fmt.Errorf("locking %s: %w", f.Path, err)
	}
	if fi, err := lf.Stat(); err != nil || !fi.Mode().IsRegular() {
		_ = lf.Close()
		if err != nil {
			return nil, fmt.Errorf("locking %s: %w", f.Path, err)
		}
		return nil, inputs.Invalidf("locking %s: %s is a %s: expected a regular file (remove it)", f.Path, path, kind(fi.Mode()))
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner := "another process"
		if b, rerr := readOwner(lf); rerr == nil && strings.TrimSpace(b) != "" {
			owner = "process " + strings.TrimSpace(b)
		}
		_ = lf.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &LockedError{Path: f.Path, Owner: owner}
		}
		return nil, fmt.Errorf("locking %s: %w", f.Path, err)
	}
	_ = lf.Truncate(0)
	_, _ = lf.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = lf.Truncate(0)
		_ = syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
		_ = lf.Close()
	}, nil
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
