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
// not overwrite each other. The lock is released by unlock, or by the
// operating system when the process ends however it ends.
func (f *File) Lock() (unlock func(), err error) {
	path := f.Path + ".lock"
	lf, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", f.Path, err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner := "another process"
		if b, rerr := os.ReadFile(path); rerr == nil && strings.TrimSpace(string(b)) != "" {
			owner = "process " + strings.TrimSpace(string(b))
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
