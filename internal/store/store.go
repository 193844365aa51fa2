// Package store keeps experiments: in a file (atomically replaced after every
// save, so readers always see a complete document) or in memory for tests.
// The Kubernetes Secret store lives in package k8s.
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"iter8.tools/iter8/internal/exitcode"
	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/source"
)

// FileName is the experiment's file name inside a run directory.
const FileName = "experiment.yaml"

// File stores an experiment in a YAML file.
type File struct {
	Path string
}

var (
	_ experiment.Store = (*File)(nil)
	_ experiment.Store = (*Memory)(nil)
)

// NewFile returns the file store for a run directory.
func NewFile(dir string) *File {
	return &File{Path: filepath.Join(dir, FileName)}
}

// MaxFile bounds experiment.yaml, which iter8 holds in memory.
const MaxFile = source.DefaultMax

// Load reads, through source with the MaxFile cap, and decodes the
// experiment.
func (f *File) Load(ctx context.Context) (*experiment.Experiment, error) {
	b, err := f.read(ctx)
	if err != nil {
		return nil, err
	}
	return f.decode(b)
}

// LoadIdle loads the experiment and reports whether no run holds it (see
// Lock): its lock was free, and the file read before and after looking at
// the lock is the same, so the state loaded is not one a run was writing
// (a run that ended or began meanwhile changed it). idle is false when
// this cannot be told. A loop that began and did not end in an idle
// experiment was stopped with its process (killed, out of memory).
func (f *File) LoadIdle(ctx context.Context) (exp *experiment.Experiment, idle bool, err error) {
	before, err := f.read(ctx)
	if err != nil {
		return nil, false, err
	}
	held := f.held()
	b, err := f.read(ctx)
	if err != nil {
		return nil, false, err
	}
	exp, err = f.decode(b)
	return exp, err == nil && !held && bytes.Equal(before, b), err
}

// read reads the file through source with the MaxFile cap.
func (f *File) read(ctx context.Context) ([]byte, error) {
	b, err := source.Reader{Max: MaxFile}.File(ctx, "", f.Path)
	if err != nil {
		if errors.Is(err, source.ErrTooLarge) {
			return nil, inputs.Invalidf("reading experiment %s: larger than the %d MiB iter8 reads", f.Path, MaxFile>>20)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, inputs.Invalidf("reading experiment %s: the file does not exist (create it with iter8 gen or iter8 launch, or pass --runDir)", f.Path)
		}
		return nil, inputs.Invalidf("reading experiment %s: %v", f.Path, err)
	}
	return b, nil
}

// decode decodes the file's bytes b.
func (f *File) decode(b []byte) (*experiment.Experiment, error) {
	exp, err := experiment.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("reading experiment %s: %w", f.Path, err)
	}
	return exp, nil
}

// Save encodes the experiment and atomically replaces the file.
func (f *File) Save(_ context.Context, exp *experiment.Experiment) error {
	b, err := experiment.Encode(exp)
	if err != nil {
		return err
	}
	return WriteAtomic(f.Path, b)
}

// WriteAtomic writes data to path so that readers see either the old or the
// new content, never a mix: it writes a temporary file in the same folder,
// syncs it, and renames it over path. On error the old file is untouched.
func WriteAtomic(path string, data []byte) error {
	return writeAtomic(path, data, 0o644)
}

// WritePrivate is WriteAtomic for a file only its owner may read (0600):
// a file holding secrets.
func WritePrivate(path string, data []byte) error {
	return writeAtomic(path, data, 0o600)
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	name := tmp.Name()
	fail := func(err error) error {
		_ = tmp.Close()
		_ = os.Remove(name)
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fail(err)
	}
	if err := tmp.Sync(); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("saving %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// Memory stores an experiment in memory, encoded as the file store would,
// so tests see exactly what a file reader would.
type Memory struct {
	mu    sync.Mutex
	data  []byte
	Saves int
}

// NewMemory returns a memory store holding exp.
func NewMemory(exp *experiment.Experiment) (*Memory, error) {
	m := &Memory{}
	return m, m.Save(context.Background(), exp)
}

// Load decodes the stored experiment.
func (m *Memory) Load(_ context.Context) (*experiment.Experiment, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return experiment.Decode(m.data)
}

// Save encodes and keeps the experiment.
func (m *Memory) Save(_ context.Context, exp *experiment.Experiment) error {
	b, err := experiment.Encode(exp)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data = b
	m.Saves++
	return nil
}

// Bytes returns the last saved document.
func (m *Memory) Bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.data...)
}

// ErrLocked matches a LockedError: another process runs the experiment.
var ErrLocked = exitcode.New("store: experiment in use", exitcode.Locked)

// LockedError says that another iter8 process holds the experiment's lock.
type LockedError struct {
	Path  string
	Owner string // "process <pid>", or "another process" when unknown
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%s is in use by %s (another iter8 run): wait for it to finish or use another --runDir", e.Path, e.Owner)
}

// Is makes a LockedError match ErrLocked.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// ExitCode is exitcode.Locked: the input is fine, the experiment is busy.
func (e *LockedError) ExitCode() exitcode.Code { return exitcode.Locked }
