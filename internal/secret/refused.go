package secret

import (
	"errors"
	"fmt"

	"iter8.tools/iter8/internal/exitcode"
)

// ErrRefused matches a RefusedError: content iter8 fetched or rendered
// tried to use a secret reference it may not.
var ErrRefused = errors.New("secret reference refused")

// RefusedError says that a template rendered a secret reference it may not
// use: a template fetched from a URL (without --allow-local-secrets), or a
// notification payload, which is sent as rendered. It is bad input (exit
// 2), and names the reference, the template and its source, never a
// secret.
type RefusedError struct {
	// What is the template, such as "provider p: template" or "payload
	// template".
	What   string
	Source string
	// How is how it used the reference: "renders", "came from a URL and
	// renders".
	How string
	Ref string
	// Why says what is refused and how to allow it, if it can be.
	Why string
}

func (e *RefusedError) Error() string {
	how := e.How
	if how == "" {
		how = "renders"
	}
	return fmt.Sprintf("%s %s %s the secret reference %s: %s", e.What, e.Source, how, e.Ref, e.Why)
}

// Is makes a RefusedError match ErrRefused.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// ExitCode is exitcode.Usage: the content is bad input.
func (e *RefusedError) ExitCode() exitcode.Code { return exitcode.Usage }
