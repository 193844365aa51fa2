package main

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// A values URL that streams forever stops at the 16 MiB cap: exit 2 naming
// the URL and the cap, and the server sends little more than the cap.
func TestValuesURLStreamingForeverIsCapped(t *testing.T) {
	needBinary(t)
	t.Parallel()
	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte("# " + strings.Repeat("x", 32<<10) + "\n")
		for r.Context().Err() == nil {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	r := iter8(t, t.TempDir(), "gen", "-f", srv.URL+"/values.yaml")
	want := "values: " + srv.URL + "/values.yaml is larger than the 16 MiB iter8 reads"
	if r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d (want 2), stderr lacks %q:\n%s", r.code, want, r.stderr)
	}
	if n := sent.Load(); n > 64<<20 {
		t.Errorf("the server sent %d MiB", n>>20)
	}
}

// --set-file and -f on a device that never ends stop at the cap.
func TestEndlessValuesFilesAreCapped(t *testing.T) {
	needBinary(t)
	t.Parallel()
	for _, args := range [][]string{
		{"--set-file", "k=/dev/zero"},
		{"-f", "/dev/zero"},
	} {
		r := iter8(t, t.TempDir(), append([]string{"gen"}, args...)...)
		want := "values: /dev/zero is larger than the 16 MiB iter8 reads"
		if r.code != 2 || !strings.Contains(r.stderr, want) {
			t.Errorf("%v: exit %d (want 2), stderr lacks %q:\n%s", args, r.code, want, r.stderr)
		}
	}
}

// A values URL that never answers fails after the timeout.
func TestSilentValuesURLTimesOut(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	r := iter8(t, t.TempDir(), "gen", "--values-timeout", "300ms", "-f", srv.URL+"/values.yaml")
	want := "values: fetching " + srv.URL + "/values.yaml: no answer within 300ms"
	if r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d (want 2), stderr lacks %q:\n%s", r.code, want, r.stderr)
	}
}

// A metrics URL that redirects to another port does not take the API key
// (nor a Referer with the query's secret parameters) along; the task says
// why it stopped.
func TestMetricsRedirectToAnotherHostKeepsSecrets(t *testing.T) {
	needBinary(t)
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	second := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, fmt.Sprintf("X-Api-Key=%q Referer=%q", r.Header.Get("X-Api-Key"), r.Header.Get("Referer")))
		mu.Unlock()
		_, _ = w.Write([]byte(`{"v": 1}`))
	}))
	t.Cleanup(second.Close)
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, second.URL+"/q", http.StatusFound)
	}))
	t.Cleanup(first.Close)
	dir := t.TempDir()
	tpl := "url: " + first.URL + "/q\nheaders: {X-Api-Key: '{{ .key }}'}\nmetrics:\n- name: m\n  type: gauge\n  jqExpression: .v\n  params: [{name: token, value: '{{ .key }}'}]\n"
	if err := os.WriteFile(filepath.Join(dir, "p.tpl"), []byte(tpl), 0o600); err != nil {
		t.Fatal(err)
	}
	values := "tasks: [custommetrics]\ncustommetrics:\n  templates: {p: p.tpl}\n  values: {key: k3y-0f-the-test}\n"
	if err := os.WriteFile(filepath.Join(dir, "values.yaml"), []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	r := iter8(t, dir, "launch", "-f", "values.yaml")
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 0 {
		t.Errorf("the second server was reached: %v", seen)
	}
	want := "refusing a redirect from " + first.URL + " to " + second.URL + ": the request carries X-Api-Key, which must not go to another host"
	if !strings.Contains(r.stdout+r.stderr, want) {
		t.Errorf("exit %d, output lacks %q:\nstdout:\n%s\nstderr:\n%s", r.code, want, r.stdout, r.stderr)
	}
}

// zeros never ends, like a pipe from yes or /dev/zero.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '#'
	}
	return len(p), nil
}

// Values on a standard input that never ends stop at the cap, given as -f -
// or as -f /dev/stdin (a pipe: its stat size says nothing).
func TestEndlessStdinIsCapped(t *testing.T) {
	needBinary(t)
	t.Parallel()
	for _, tt := range []struct{ arg, want string }{
		{"-", "values: standard input is larger than the 16 MiB iter8 reads"},
		{"/dev/stdin", "values: /dev/stdin is larger than the 16 MiB iter8 reads"},
	} {
		cmd := exec.Command(bin, "gen", "-f", tt.arg)
		cmd.Dir = t.TempDir()
		cmd.Stdin = zeros{}
		var errb strings.Builder
		cmd.Stderr = &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("-f %s: %v, stderr lacks %q:\n%s", tt.arg, err, tt.want, errb.String())
		}
	}
}
