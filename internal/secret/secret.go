// Package secret resolves references to secrets kept outside the experiment.
//
// A string may hold references of two forms:
//
//	${env:NAME}    the value of the environment variable NAME (it must be set)
//	${file:/path}  the contents of the file at the absolute path, without a
//	               trailing newline (for example a mounted Kubernetes Secret)
//
// References are resolved only when a value is used (a request is sent, a
// database is opened), so the stored experiment, logs and reports keep the
// reference, never the secret. Anything else in the string is kept as is:
// "Bearer ${env:TOKEN}" resolves to "Bearer " followed by the token. "$${"
// writes a literal "${".
package secret

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"iter8.tools/iter8/internal/source"
)

// ErrSecret marks a reference that cannot be resolved: an unset variable, an
// unreadable file, or a malformed reference.
var ErrSecret = errors.New("secret")

// ref matches an escaped "$${", or a reference "${kind:arg}".
var ref = regexp.MustCompile(`\$\$\{|\$\{([a-z]+):([^}]*)\}`)

// Contains reports whether s holds at least one secret reference.
func Contains(s string) bool {
	for _, m := range ref.FindAllStringSubmatch(s, -1) {
		if m[0] != "$${" {
			return true
		}
	}
	return false
}

// First returns the first secret reference in s, or "".
func First(s string) string {
	for _, m := range ref.FindAllString(s, -1) {
		if m != "$${" {
			return m
		}
	}
	return ""
}

// All returns the secret references in s, in order.
func All(s string) []string {
	var out []string
	for _, m := range ref.FindAllString(s, -1) {
		if m != "$${" {
			out = append(out, m)
		}
	}
	return out
}

// Resolve returns s with every reference replaced by the secret it names. The
// error names the reference, never the secret.
func Resolve(s string) (string, error) {
	return (&Redactor{}).Resolve(s)
}

// ResolveMap resolves the references in a map's values (headers,
// metadata); an error names the key.
func ResolveMap(m map[string]string) (map[string]string, error) {
	if len(m) == 0 {
		return m, nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		rv, err := Resolve(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = rv
	}
	return out, nil
}

// Resolve returns s with every reference replaced by the secret it names,
// and remembers the secrets for Redact.
func (r *Redactor) Resolve(s string) (string, error) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var firstErr error
	out := ref.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$${" {
			return "${"
		}
		sub := ref.FindStringSubmatch(m)
		v, err := lookup(sub[1], sub[2])
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%w: resolving %s: %w", ErrSecret, m, err)
		}
		r.remember(v)
		return v
	})
	if firstErr != nil {
		return "", firstErr
	}
	return out, nil
}

func lookup(kind, arg string) (string, error) {
	switch kind {
	case "env":
		if arg == "" {
			return "", errors.New("expected a variable name, as in ${env:NAME}")
		}
		v, ok := os.LookupEnv(arg)
		if !ok {
			return "", fmt.Errorf("environment variable %s is not set", arg)
		}
		return v, nil
	case "file":
		if !filepath.IsAbs(arg) {
			return "", fmt.Errorf("expected an absolute path, as in ${file:/run/secrets/token}, not %q", arg)
		}
		b, err := source.Reader{}.File(context.Background(), "", arg)
		if err != nil {
			return "", fmt.Errorf("reading the file: %w", unwrapPath(err))
		}
		return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r"), nil
	}
	return "", fmt.Errorf("unknown kind %q: expected ${env:NAME} or ${file:/path}", kind)
}

// unwrapPath drops the path from an *os.PathError (the reference names it).
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
