package task

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"iter8.tools/iter8/internal/demo/demotest"
	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/store"
)

// inputCase is a task input that must be refused, and a part of the message.
type inputCase struct {
	name string
	with map[string]any
	want string
}

// wantInputErrors builds a task from each case's inputs: each must fail as
// invalid input, with a message containing the case's want.
func wantInputErrors(t *testing.T, build func(map[string]any) (experiment.Task, error), tests []inputCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := build(tt.with)
			if err == nil || !errors.Is(err, inputs.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v\nwant ErrInvalid containing %q", err, tt.want)
			}
		})
	}
}

// runIn builds a task from its inputs and runs it once, on an experiment of
// its own, in the run directory dir.
func runIn(t *testing.T, build func(map[string]any) (experiment.Task, error), with map[string]any, dir string) (*experiment.Experiment, error) {
	t.Helper()
	tk, err := build(with)
	if err != nil {
		t.Fatal(err)
	}
	exp := &experiment.Experiment{Spec: []experiment.TaskSpec{{}}, Result: &experiment.Result{}}
	return exp, tk.Run(context.Background(), &experiment.Env{Experiment: exp, Logger: discard(), Dir: dir})
}

// runTemp runs a task once in a temporary run directory; see runIn.
func runTemp(t *testing.T, build func(map[string]any) (experiment.Task, error), with map[string]any) (*experiment.Experiment, error) {
	t.Helper()
	return runIn(t, build, with, t.TempDir())
}

// started returns a test server that started, closing it when the test
// ends.
func started[S interface{ Close() error }](t *testing.T, s S, err error) S {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// runner returns a runner of the experiment document, over an in-memory
// store, with the task registry.
func runner(t *testing.T, doc string) *experiment.Runner {
	t.Helper()
	exp, err := experiment.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.NewMemory(exp)
	if err != nil {
		t.Fatal(err)
	}
	return &experiment.Runner{Store: st, Registry: Registry(Deps{})}
}

// discard is a logger that drops everything.
func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// receiver records what requests carried.
type receiver struct {
	mu      sync.Mutex
	bodies  map[string]int
	headers map[string]int
	methods map[string]int
}

func newReceiver(t *testing.T) (*receiver, *httptest.Server) {
	r := &receiver{bodies: map[string]int{}, headers: map[string]int{}, methods: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b := make([]byte, 1024)
		n, _ := req.Body.Read(b)
		r.mu.Lock()
		r.bodies[string(b[:n])]++
		r.headers[req.Header.Get("X-Test")+"|"+req.Header.Get("Content-Type")]++
		r.methods[req.Method]++
		r.mu.Unlock()
		if req.URL.Path == "/payload" {
			_, _ = w.Write([]byte("from-url"))
			return
		}
		if req.URL.Path == "/teapot" {
			w.WriteHeader(http.StatusTeapot)
		}
	}))
	t.Cleanup(srv.Close)
	return r, srv
}

// testCA is a certificate authority for a test, with its certificate and
// a client certificate and key it issued written to files.
type testCA struct {
	*demotest.CA
	caFile, certFile, keyFile string
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	ca, err := demotest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	c := testCA{CA: ca}
	if c.caFile, c.certFile, c.keyFile, err = ca.WriteFiles(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	return c
}

// server returns the TLS configuration of a server named name, asking for
// client certificates when mutual.
func (c testCA) server(t *testing.T, name string, mutual bool) *tls.Config {
	t.Helper()
	conf, err := c.ServerTLS(name, mutual)
	if err != nil {
		t.Fatal(err)
	}
	return conf
}

// skipInShortMode skips a test that needs seconds of wall clock or an
// external process under go test -short; why says what it needs.
func skipInShortMode(t *testing.T, why string) {
	t.Helper()
	if testing.Short() {
		t.Skip("short mode: " + why)
	}
}

// origin serves what the original's charts download (paths of files) and
// counts the requests to each path, recording the bodies posted.
type origin struct {
	mu     sync.Mutex
	files  map[string][]byte
	counts map[string]int
	bodies []string
}

func newOrigin(t *testing.T, files map[string][]byte) (*origin, string) {
	t.Helper()
	o := &origin{files: files, counts: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		o.mu.Lock()
		o.counts[r.URL.Path]++
		if r.Method == http.MethodPost {
			o.bodies = append(o.bodies, string(b))
		}
		f, ok := o.files[r.URL.Path]
		o.mu.Unlock()
		if r.Method == http.MethodGet && !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(f)
	}))
	t.Cleanup(srv.Close)
	return o, srv.URL
}

func (o *origin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[path]
}

// readFile returns the contents of the file at path.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
