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
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
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

// Redactor resolves references like Resolve and remembers the secrets it
// produced, so that messages which may echo them (a server's error body, a
// driver's error) can be cleaned with Redact. The zero value is ready to use;
// it is not safe for concurrent use.
type Redactor struct {
	secrets []string
}

// Redacted replaces a secret in messages cleaned by Redact.
const Redacted = "[redacted]"

// Redact returns msg with every secret resolved so far, plain or URL-encoded,
// replaced by Redacted.
func (r *Redactor) Redact(msg string) string {
	for _, s := range r.secrets {
		msg = strings.ReplaceAll(msg, s, Redacted)
		if q := url.QueryEscape(s); q != s {
			msg = strings.ReplaceAll(msg, q, Redacted)
		}
		if p := url.PathEscape(s); p != s {
			msg = strings.ReplaceAll(msg, p, Redacted)
		}
	}
	return msg
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

func (r *Redactor) remember(v string) {
	if v == "" || slices.Contains(r.secrets, v) {
		return
	}
	r.secrets = append(r.secrets, v)
	// Longest first, so a secret containing another is replaced whole.
	sort.SliceStable(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
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

// sensitive matches names that hold secrets: request headers such as
// Authorization or Cookie, API keys, tokens, passwords, DSNs.
var sensitive = regexp.MustCompile(`(?i)(authorization|cookie|token|api[-_]?key|secret|passw(or)?d|credential|dsn|private[-_]?key)`)

// Sensitive reports whether a name (a header, a metadata key, a template
// value) is one whose value is secret. Such values must be references.
func Sensitive(name string) bool { return sensitive.MatchString(name) }

// CheckLiteral returns an error when name is sensitive and value holds a
// secret as it is rather than a reference: stored in an experiment, a
// literal secret would reach files, reports and logs.
func CheckLiteral(name, value string) error {
	if !Sensitive(name) || value == "" || Contains(value) {
		return nil
	}
	return fmt.Errorf("%w: %s looks like a secret: give it as a reference, ${env:NAME} or ${file:/path}, resolved when used and never stored", ErrSecret, name)
}
