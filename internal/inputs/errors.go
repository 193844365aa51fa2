package inputs

import (
	"encoding/json"
	"errors"
	"fmt"

	"iter8.tools/iter8/internal/exitcode"
)

// ErrInvalid marks bad input: a malformed experiment, an unknown task or
// field, a value out of range, an unreadable file. Errors that match it exit
// with exitcode.Usage.
var ErrInvalid = exitcode.New("invalid input", exitcode.Usage)

// FieldError is an invalid or unknown input field. It names the field, the
// value and what was expected.
type FieldError struct {
	Field    string
	Value    any
	Expected string
	// Unknown is set when the field itself is not recognised.
	Unknown bool
	// Missing is set when a required field is absent.
	Missing bool
	// Suggest names a known field close to an unknown one.
	Suggest string
}

func (e *FieldError) Error() string {
	switch {
	case e.Unknown && e.Suggest != "":
		return fmt.Sprintf("unknown field %q: did you mean %q? (expected one of %s)", e.Field, e.Suggest, e.Expected)
	case e.Unknown:
		return fmt.Sprintf("unknown field %q: expected one of %s", e.Field, e.Expected)
	case e.Missing:
		return fmt.Sprintf("field %q is missing: expected %s", e.Field, e.Expected)
	}
	return fmt.Sprintf("field %q: invalid value %s: expected %s", e.Field, FormatValue(e.Value), e.Expected)
}

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// ExitCode makes bad input exit with the usage code.
func (e *FieldError) ExitCode() exitcode.Code { return exitcode.Usage }

// FormatValue renders a user-supplied value for an error message.
func FormatValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

// InvalidError is bad input described by its message; it matches ErrInvalid.
type InvalidError struct {
	Msg string
	Err error // optional cause
}

func (e *InvalidError) Error() string { return e.Msg }

// Unwrap returns the cause.
func (e *InvalidError) Unwrap() error { return e.Err }

// Is makes InvalidError match ErrInvalid.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// ExitCode makes bad input exit with the usage code.
func (e *InvalidError) ExitCode() exitcode.Code { return exitcode.Usage }

// Invalidf returns an InvalidError with a formatted message; %w verbs wrap.
func Invalidf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &InvalidError{Msg: err.Error(), Err: errors.Unwrap(err)}
}
