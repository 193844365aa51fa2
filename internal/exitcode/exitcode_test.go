package exitcode_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"iter8.tools/iter8/internal/exitcode"
)

func TestOf(t *testing.T) {
	usage := exitcode.New("bad input", exitcode.Usage)
	failed := exitcode.New("failed", exitcode.Failed)
	tests := []struct {
		name string
		err  error
		want exitcode.Code
	}{
		{"nil", nil, exitcode.OK},
		{"plain", errors.New("boom"), exitcode.Internal},
		{"context", context.Canceled, exitcode.Internal},
		{"sentinel", usage, exitcode.Usage},
		{"wrapped sentinel", fmt.Errorf("reading x: %w", usage), exitcode.Usage},
		{"Wrap", exitcode.Wrap(errors.New("held"), exitcode.Locked), exitcode.Locked},
		{"outermost wins", exitcode.Wrap(fmt.Errorf("x: %w", usage), exitcode.Failed), exitcode.Failed},
		{"join takes the first", errors.Join(failed, usage), exitcode.Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitcode.Of(tt.err); got != tt.want {
				t.Errorf("Of(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
	if exitcode.Wrap(nil, exitcode.Usage) != nil {
		t.Error("Wrap(nil) is not nil")
	}
	inner := errors.New("inner")
	if w := exitcode.Wrap(inner, exitcode.Usage); !errors.Is(w, inner) || w.Error() != "inner" {
		t.Errorf("Wrap hides its error: %v", w)
	}
}
