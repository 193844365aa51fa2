// Package exitcode defines iter8's process exit codes, which are part of its
// interface, and lets an error carry the code it should end the process with.
// Errors get their code where they arise (bad input, a failed experiment, a
// lock held by another run); the command line maps an error to a code once,
// with Of.
package exitcode

import "errors"

// Code is a process exit code.
type Code int

// The exit codes. Scripts depend on them: never renumber.
const (
	OK       Code = 0 // success; all assert conditions hold
	Failed   Code = 1 // assert conditions do not hold, or the experiment failed
	Usage    Code = 2 // usage error or invalid input
	Internal Code = 3 // anything else
	Locked   Code = 4 // another iter8 process holds the experiment; try again later
)

// Coder is implemented by errors that know their exit code.
type Coder interface {
	ExitCode() Code
}

// Of returns the exit code for err: OK for nil, the code of the outermost
// error in err's chain that has one, and Internal otherwise.
func Of(err error) Code {
	if err == nil {
		return OK
	}
	var c Coder
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return Internal
}

// Sentinel is an error value with an exit code, for package-level sentinels
// tested with errors.Is.
type Sentinel struct {
	msg  string
	code Code
}

// New returns a sentinel error with message msg and exit code code.
func New(msg string, code Code) *Sentinel { return &Sentinel{msg: msg, code: code} }

func (e *Sentinel) Error() string { return e.msg }

// ExitCode returns the sentinel's exit code.
func (e *Sentinel) ExitCode() Code { return e.code }

// Wrap returns err with exit code code attached; errors.Is and errors.As see
// through it. Wrap(nil, c) is nil.
func Wrap(err error, code Code) error {
	if err == nil {
		return nil
	}
	return &withCode{err: err, code: code}
}

type withCode struct {
	err  error
	code Code
}

func (e *withCode) Error() string  { return e.err.Error() }
func (e *withCode) Unwrap() error  { return e.err }
func (e *withCode) ExitCode() Code { return e.code }
