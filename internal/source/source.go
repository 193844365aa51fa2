// Package source reads what iter8 takes by reference: files and http(s)
// URLs holding payloads, protos, request data, metadata, templates and
// notification payloads. It is the one path for such reads, so that one size
// cap and one timeout bound them all; errors name the input and the source.
// Built-in names (such as provider templates) belong to the package that
// embeds them, which asks IsURL to tell a reference from a name.
package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// Limits applied when a Reader leaves them zero.
const (
	// DefaultMax bounds what is read: iter8 holds it in memory.
	DefaultMax = 64 << 20
	// DefaultTimeout bounds a URL fetch, from request to last byte.
	DefaultTimeout = 30 * time.Second
)

// ErrTooLarge matches a source larger than the Reader's cap.
var ErrTooLarge = errors.New("source: larger than the cap")

// TooLargeError is a source larger than the cap; it matches ErrTooLarge.
type TooLargeError struct {
	// Path is the file, or empty for a URL (the Error names it).
	Path string
	Max  int64
}

// Error names the file, if any, and the cap.
func (e *TooLargeError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("%s is larger than %d MiB", e.Path, e.Max>>20)
	}
	return fmt.Sprintf("larger than %d MiB", e.Max>>20)
}

// Is matches ErrTooLarge.
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// Reader reads files and URLs with a size cap and, for URLs, a timeout.
// The zero value is ready to use.
type Reader struct {
	// Client fetches URLs; nil means Client(), which sends no Referer.
	Client *http.Client
	// Max is the largest source read, in bytes; 0 means DefaultMax.
	Max int64
	// Timeout bounds a URL fetch; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Error is a source that could not be read. What names the input (such as
// payloadFile or template) and may be empty; Source is the path or URL.
type Error struct {
	URL    bool
	What   string
	Source string
	Err    error
}

// Error says what could not be read and why.
func (e *Error) Error() string {
	if e.URL {
		if e.What != "" {
			return "fetching " + e.What + " " + e.Source + ": " + e.Err.Error()
		}
		return "fetching " + e.Source + ": " + e.Err.Error()
	}
	if e.What != "" {
		return "reading " + e.What + ": " + e.Err.Error()
	}
	return e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// IsURL reports whether ref is an http(s) URL rather than a path or a name.
func IsURL(ref string) bool {
	u, err := url.Parse(ref)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https")
}

// Path returns p relative to dir, unless p is empty or absolute.
func Path(dir, p string) string {
	if p == "" || filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

func (r Reader) max() int64 {
	if r.Max > 0 {
		return r.Max
	}
	return DefaultMax
}

// Read reads ref: an http(s) URL, or a file path relative to dir.
func (r Reader) Read(ctx context.Context, what, dir, ref string) ([]byte, error) {
	if IsURL(ref) {
		return r.URL(ctx, what, ref)
	}
	return r.File(ctx, what, Path(dir, ref))
}

// File reads the file at path, refusing one larger than the cap. The error
// for a file that cannot be opened is the *fs.PathError, which names it.
func (r Reader) File(ctx context.Context, what, path string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{What: what, Source: path, Err: err}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{What: what, Source: path, Err: err}
	}
	defer func() { _ = f.Close() }()
	b, err := readCapped(f, r.max())
	var tl *TooLargeError
	if errors.As(err, &tl) {
		tl.Path = path
	}
	if err != nil {
		return nil, &Error{What: what, Source: path, Err: err}
	}
	return b, nil
}

// Stream reads rd (such as standard input, named name) to its end, refusing
// more than the cap.
func (r Reader) Stream(what, name string, rd io.Reader) ([]byte, error) {
	b, err := readCapped(rd, r.max())
	var tl *TooLargeError
	if errors.As(err, &tl) {
		tl.Path = name
	}
	if err != nil {
		return nil, &Error{What: what, Source: name, Err: err}
	}
	return b, nil
}

// URL fetches u with a GET, refusing an answer other than 2xx or one larger
// than the cap, and giving up after the timeout.
func (r Reader) URL(ctx context.Context, what, u string) ([]byte, error) {
	b, err := r.fetch(ctx, u)
	if err != nil {
		return nil, &Error{URL: true, What: what, Source: u, Err: err}
	}
	return b, nil
}

func (r Reader) fetch(ctx context.Context, u string) ([]byte, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	client := r.Client
	if client == nil {
		client = Client()
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return nil, fmt.Errorf("no answer within %s: %w", timeout, err)
		}
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		return nil, &StatusError{Status: resp.Status}
	}
	b, err := readCapped(resp.Body, r.max())
	if err != nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("not complete within %s: %w", timeout, err)
	}
	return b, err
}

// StatusError is an answer other than 2xx to a fetch.
type StatusError struct {
	// Status is the status line, such as "404 Not Found".
	Status string
}

// Error returns "HTTP " and the status line.
func (e *StatusError) Error() string { return "HTTP " + e.Status }

// readCapped reads rd to its end, failing with a *TooLargeError past limit
// bytes.
func readCapped(rd io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(rd, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Max: limit}
	}
	return b, nil
}
