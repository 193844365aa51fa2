package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
)

func TestFileRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := NewFile(dir)
	run := "echo hi"
	exp := &experiment.Experiment{Spec: []experiment.TaskSpec{{Run: &run}}, Result: &experiment.Result{NumLoops: 2}}
	if err := f.Save(context.Background(), exp); err != nil {
		t.Fatal(err)
	}
	got, err := f.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got.Result.NumLoops != 2 || *got.Spec[0].Run != "echo hi" {
		t.Errorf("round trip: %+v", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestFileLoadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := NewFile(dir).Load(context.Background())
	if !errors.Is(err, inputs.ErrInvalid) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("spec: {"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = NewFile(dir).Load(context.Background())
	if !errors.Is(err, inputs.ErrInvalid) || !strings.Contains(err.Error(), "not valid YAML") {
		t.Errorf("bad file: %v", err)
	}
}

// experiment.yaml is read with a cap: a file past MaxFile is bad input
// naming the path and the cap.
func TestFileLoadCapped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, MaxFile+1); err != nil {
		t.Fatal(err)
	}
	_, err := NewFile(dir).Load(context.Background())
	want := "reading experiment " + path + ": larger than the 64 MiB iter8 reads"
	if !errors.Is(err, inputs.ErrInvalid) || err == nil || err.Error() != want {
		t.Errorf("Load = %v, want %s", err, want)
	}
}

func TestWriteAtomicKeepsOldFileOnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, FileName)
	if err := WriteAtomic(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	// A path in a folder that does not exist cannot be written; the error says where.
	err := WriteAtomic(filepath.Join(dir, "missing", FileName), []byte("new"))
	if err == nil || !strings.Contains(err.Error(), "saving") {
		t.Errorf("error %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("old file changed: %q", b)
	}
}
