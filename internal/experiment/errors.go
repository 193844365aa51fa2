package experiment

import (
	"errors"
	"fmt"

	"iter8.tools/iter8/internal/exitcode"
	"iter8.tools/iter8/internal/inputs"
)

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrFailed marks an experiment in which a task failed.
	ErrFailed = exitcode.New("experiment failed", exitcode.Failed)
	// ErrAbort is returned (wrapped) by a task that stops the experiment:
	// no further loops run.
	ErrAbort = errors.New("aborted")
)

// TaskError places an error at a task of the spec.
type TaskError struct {
	Index int // zero-based
	Name  string
	Err   error
}

func (e *TaskError) Error() string {
	if e.Name == "" {
		return fmt.Sprintf("task %d: %v", e.Index+1, e.Err)
	}
	return fmt.Sprintf("task %d (%s): %v", e.Index+1, e.Name, e.Err)
}

func (e *TaskError) Unwrap() error { return e.Err }

func invalidf(format string, args ...any) error { return inputs.Invalidf(format, args...) }
