package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/demo"
)

// docsCommands returns the iter8 commands of a page of the original's docs
// (testdata/original) whose text contains want: each ```bash block, split
// into words as the shell would (line continuations joined, double quotes
// removed), without the leading "iter8".
func docsCommands(t *testing.T, page, want string) [][]string {
	t.Helper()
	var out [][]string
	seen := map[string]bool{}
	rest := string(originalFile(t, page))
	for {
		_, after, ok := strings.Cut(rest, "```bash\n")
		if !ok {
			return out
		}
		block, next, _ := strings.Cut(after, "```")
		rest = next
		line := strings.ReplaceAll(block, "\\\n", " ")
		if !strings.Contains(line, want) || seen[line] {
			continue
		}
		seen[line] = true
		words := shellWords(t, line)
		if len(words) < 2 || words[0] != "iter8" {
			t.Fatalf("%s: not an iter8 command: %q", page, line)
		}
		out = append(out, words[1:])
	}
}

// shellWords splits a command line into words: blanks separate them,
// double quotes group them (the docs use no other quoting).
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	in, quoted := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted, in = !quoted, true
		case !quoted && (r == ' ' || r == '\n' || r == '\t'):
			if in {
				words = append(words, w.String())
				w.Reset()
			}
			in = false
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if quoted {
		t.Fatalf("unbalanced quotes in %q", line)
	}
	if in {
		words = append(words, w.String())
	}
	return words
}

// locally turns the docs' Kubernetes command into the local one with the
// same values: "k launch" becomes "launch" and runner=job (which only
// chooses the Kubernetes runner) is dropped; rewrite maps each value.
func locally(t *testing.T, args []string, rewrite func(string) string) []string {
	t.Helper()
	if len(args) < 2 || args[0] != "k" || args[1] != "launch" {
		t.Fatalf("not a k launch command: %q", args)
	}
	out := []string{"launch"}
	for i := 2; i < len(args); i++ {
		if args[i] == "--set" && i+1 < len(args) && args[i+1] == "runner=job" {
			i++
			continue
		}
		out = append(out, rewrite(args[i]))
	}
	return out
}

// The original's http docs (docs v0.13.18, user-guide/tasks/http.md) run
// unchanged but for their targets: each endpoint is load tested on its own,
// with the task's numRequests (default 100) and qps (default 8) unless it
// sets its own. "In this example, all three endpoints will have a
// numRequests of 50": the server counts exactly 50 requests per endpoint
// (issue 14 items 4 and 10), and each endpoint's metrics are its own.
func TestOriginalDocsHTTPEndpoints(t *testing.T) {
	needBinary(t)
	t.Parallel()
	cmds := docsCommands(t, "docs-v0.13.18/docs/user-guide/tasks/http.md", "http.endpoints.")
	// the docs' statements about each distinct command, in the page's order
	type endpoint struct {
		requests int64
		qps      float64
	}
	want := []map[string]endpoint{
		{"get": {100, 8}, "getAnything": {100, 8}, "post": {100, 8}},  // Multiple endpoints (and Precedence 1)
		{"get": {100, 8}, "getAnything": {100, 8}, "post": {100, 15}}, // post.qps=15
		{"get": {100, 10}, "getAnything": {100, 10}, "post": {100, 10}},
		{"get": {100, 10}, "getAnything": {100, 10}, "post": {100, 15}},
		{"get": {50, 8}, "getAnything": {50, 8}, "post": {50, 8}}, // "a numRequests of 50"
	}
	if len(cmds) != len(want) {
		t.Fatalf("the page has %d distinct endpoint commands, want %d", len(cmds), len(want))
	}
	paths := map[string]string{"get": "/get", "getAnything": "/anything", "post": "/post"}
	for i, cmd := range cmds {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			srv := startTarget(t)
			dir := t.TempDir()
			args := locally(t, cmd, func(s string) string { return strings.ReplaceAll(s, "http://httpbin.default", srv.URL()) })
			if r := iter8(t, dir, args...); r.code != 0 {
				t.Fatalf("iter8 %s exited %d:\n%s", strings.Join(args, " "), r.code, r.stderr)
			}
			if r := iter8(t, dir, "assert", "-c", "completed", "-c", "nofailure", "-c", "slos"); r.code != 0 {
				t.Errorf("assert exited %d:\n%s%s", r.code, r.stdout, r.stderr)
			}
			exp := loadExperiment(t, dir)
			in := exp.Result.Insights
			var total int64
			for id, w := range want[i] {
				method := "GET"
				if id == "post" {
					method = "POST"
				}
				if got := srv.Count(method, paths[id]); got != w.requests {
					t.Errorf("%s: the server counted %d requests, want %d", id, got, w.requests)
				}
				ls := in.Load["http-"+id]
				if ls == nil || ls.Requests != w.requests || ls.IntendedRate != w.qps || ls.Errors != 0 {
					t.Errorf("http-%s: %+v, want %d requests at %v qps", id, ls, w.requests, w.qps)
				}
				if v, _ := in.Value("http-"+id+"/request-count", 0); v != float64(w.requests) {
					t.Errorf("http-%s/request-count = %v", id, v)
				}
				total += w.requests
			}
			if v, _ := in.Value("http/request-count", 0); v != float64(total) {
				t.Errorf("http/request-count = %v, want %d", v, total)
			}
		})
	}
}

// The original's gRPC docs (docs v0.13.18, user-guide/tasks/grpc.md) run
// unchanged but for their targets: each method is load tested on its own
// with ghz's default total of 200 calls, its own timeout where the docs set
// one per endpoint, and the task's skipFirst ("all three endpoints will
// have a skipFirst of 5") before each. The routeguide service is replaced
// by the demo service (the same four kinds of calls: GetFeature → Unary,
// ListFeatures → ServerStream, RecordRoute → ClientStream, RouteChat →
// Bidi), the proto and data URLs by a local server serving the demo's
// proto (whose import is found with import-paths) and data for it.
func TestOriginalDocsGRPCEndpoints(t *testing.T) {
	needBinary(t)
	t.Parallel()
	cmds := docsCommands(t, "docs-v0.13.18/docs/user-guide/tasks/grpc.md", "grpc.endpoints.")
	if len(cmds) != 6 {
		t.Fatalf("the page has %d distinct endpoint commands, want 6", len(cmds))
	}
	protos := t.TempDir()
	protoFile, err := demo.WriteDemoProtos(protos)
	if err != nil {
		t.Fatal(err)
	}
	proto, err := os.ReadFile(protoFile)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"/route_guide.proto":  string(proto),
		"/unary.json":         `{"name": "unary"}`,
		"/server.json":        `{"name": "server", "count": 3}`,
		"/client.json":        `[{"name": "c1"}, {"name": "c2"}]`,
		"/bidirectional.json": `[{"name": "b1"}, {"name": "b2"}]`,
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files["/"+filepath.Base(r.URL.Path)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(f))
	}))
	t.Cleanup(origin.Close)
	calls := map[string]string{
		"routeguide.RouteGuide.GetFeature": "Unary", "routeguide.RouteGuide.ListFeatures": "ServerStream",
		"routeguide.RouteGuide.RecordRoute": "ClientStream", "routeguide.RouteGuide.RouteChat": "Bidi",
	}
	for i, cmd := range cmds {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			srv, err := demo.StartGRPC(demo.GRPCConfig{}, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.Close() })
			args := locally(t, cmd, func(s string) string {
				s = strings.ReplaceAll(s, "routeguide.default:50051", srv.Addr())
				for _, prefix := range []string{"https://raw.githubusercontent.com/grpc/grpc-go/v1.52.0/examples/route_guide/routeguide", "https://raw.githubusercontent.com/iter8-tools/docs/v0.13.13/samples/grpc-payload"} {
					s = strings.ReplaceAll(s, prefix, origin.URL)
				}
				for from, to := range calls {
					s = strings.ReplaceAll(s, from, "iter8.demo.v1.Demo."+to)
				}
				return s
			})
			args = append(args, "--set", "grpc.import-paths={"+protos+"}")
			dir := t.TempDir()
			if r := iter8(t, dir, args...); r.code != 0 {
				t.Fatalf("iter8 %s exited %d:\n%s", strings.Join(args, " "), r.code, r.stderr)
			}
			if r := iter8(t, dir, "assert", "-c", "completed", "-c", "nofailure", "-c", "slos"); r.code != 0 {
				t.Errorf("assert exited %d:\n%s%s", r.code, r.stdout, r.stderr)
			}
			skip := int64(0)
			if slices.Contains(cmd, "grpc.skipFirst=5") {
				skip = 5
			}
			in := loadExperiment(t, dir).Result.Insights
			var ids []string
			for _, a := range cmd {
				rest, ok := strings.CutPrefix(a, "grpc.endpoints.")
				id, call, isCall := strings.Cut(rest, ".call=")
				if ok && isCall {
					ids = append(ids, id)
					method := calls[call]
					if got := srv.Calls(method); got != 200+skip {
						t.Errorf("%s: the server counted %d %s calls, want %d", id, got, method, 200+skip)
					}
					if ls := in.Load["grpc-"+id]; ls == nil || ls.Requests != 200 || ls.Errors != 0 {
						t.Errorf("grpc-%s: %+v, want 200 calls without errors", id, ls)
					}
				}
			}
			if v, _ := in.Value("grpc/request-count", 0); len(ids) < 3 || v != float64(200*len(ids)) {
				t.Errorf("grpc/request-count = %v for endpoints %v", v, ids)
			}
		})
	}
}
