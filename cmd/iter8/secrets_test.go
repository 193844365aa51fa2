package main

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"iter8.tools/iter8/internal/demo"
	"iter8.tools/iter8/internal/report"
)

func newSecret(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "s3cr3t-" + hex.EncodeToString(b)
}

// Secrets given to the http task (a header), the grpc task (metadata) and a
// notification (a header) reach their servers, and never experiment.yaml,
// the logs at any level, any report format, or assert's messages: given as
// references, and given as they are (kept beside the experiment).
func TestSecretsNeverLeakFromLoadAndNotify(t *testing.T) {
	needBinary(t)
	t.Parallel()
	for _, literal := range []bool{false, true} {
		name := "references"
		if literal {
			name = "literals"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			secretsNeverLeak(t, literal)
		})
	}
}

func secretsNeverLeak(t *testing.T, literal bool) {
	httpToken, grpcToken, hookToken := newSecret(t), newSecret(t), newSecret(t)
	dir := t.TempDir()
	for name, v := range map[string]string{"http-token": httpToken, "grpc-token": grpcToken, "hook-token": hookToken} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[string]string{}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.URL.Path] = r.Header.Get("Authorization") + "|" + r.Header.Get("X-Hook-Key") + "|" + string(body)
		mu.Unlock()
		if r.URL.Path == "/hook" {
			// a receiver that echoes what it got in an error
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte("bad key " + r.Header.Get("X-Hook-Key")))
		}
	}))
	t.Cleanup(web.Close)
	g, err := demo.StartGRPC(demo.GRPCConfig{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })

	given := func(name string) string {
		if literal {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(string(b))
		}
		return "${file:" + filepath.Join(dir, name) + "}"
	}
	args := []string{"launch", "-l", "trace",
		"--set", "tasks={http,grpc,assess,webhook}",
		"--set", "http.url=" + web.URL + "/api", "--set", "http.numRequests=5",
		"--set", "http.headers.Authorization=Bearer " + given("http-token"),
		"--set", "grpc.host=" + g.Addr(), "--set", "grpc.call=helloworld.Greeter.SayHello", "--set", "grpc.total=5",
		"--set", "grpc.metadata.x-token=" + given("grpc-token"),
		"--set", "assess.SLOs.upper.http/error-count=0",
		"--set", "webhook.url=" + web.URL + "/hook", "--set", "webhook.softFailure=false",
		"--set", "webhook.headers.X-Hook-Key=" + given("hook-token"),
	}
	r := iter8(t, dir, args...)
	if r.code != 1 || !strings.Contains(r.stderr, "the server answered 400") {
		t.Fatalf("launch: exit %d (want 1: the webhook refuses), stderr:\n%s", r.code, r.stderr)
	}
	mu.Lock()
	if !strings.Contains(seen["/api"], "Bearer "+httpToken) || !strings.Contains(seen["/hook"], hookToken) {
		t.Errorf("the secrets did not reach the servers: %v", seen)
	}
	mu.Unlock()
	if g.Metadata("x-token") != grpcToken {
		t.Errorf("grpc metadata %q", g.Metadata("x-token"))
	}
	outputs := map[string]string{"launch stderr": r.stderr, "launch stdout": r.stdout}
	b, err := os.ReadFile(filepath.Join(dir, "experiment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	outputs["experiment.yaml"] = string(b)
	for _, f := range report.FormatNames() {
		rr := iter8(t, dir, "report", "-o", f, "-l", "trace")
		outputs["report -o "+f] = rr.stdout + rr.stderr
	}
	ra := iter8(t, dir, "assert", "-c", "completed,nofailure,slos", "-l", "trace")
	outputs["assert"] = ra.stdout + ra.stderr
	for where, text := range outputs {
		for _, s := range []string{httpToken, grpcToken, hookToken} {
			if strings.Contains(text, s) {
				t.Errorf("a secret reached %s:\n%s", where, text)
			}
		}
	}
	if !strings.Contains(outputs["experiment.yaml"], "${file:") {
		t.Error("experiment.yaml should keep the references")
	}
}

// Secrets given as they are, rather than as references, are accepted with a
// warning that recommends references, and kept out of experiment.yaml.
func TestLiteralSecretsKeptWithAWarning(t *testing.T) {
	needBinary(t)
	t.Parallel()
	for _, args := range [][]string{
		{"--set", "tasks={http}", "--set", "http.url=http://127.0.0.1:1/", "--set", "http.headers.Authorization=Bearer abc123"},
		{"--set", "tasks={grpc}", "--set", "grpc.host=127.0.0.1:1", "--set", "grpc.call=a.B.C", "--set", "grpc.metadata.api-key=abc123"},
		{"--set", "tasks={webhook}", "--set", "webhook.url=http://127.0.0.1:1/", "--set", "webhook.headers.X-Api-Key=abc123"},
	} {
		dir := t.TempDir()
		r := iter8(t, dir, append([]string{"gen"}, args...)...)
		if r.code != 0 || !strings.Contains(r.stderr, "give secrets as references instead, ${env:NAME} or ${file:/path}") || strings.Contains(r.stderr, "abc123") {
			t.Errorf("%v: exit %d, stderr %s", args, r.code, r.stderr)
		}
		if doc := mustRead(t, filepath.Join(dir, "experiment.yaml")); strings.Contains(doc, "abc123") {
			t.Errorf("%v: experiment.yaml holds the secret:\n%s", args, doc)
		}
	}
}

// run tasks from values fetched from a URL need --allow-run.
func TestRemoteValuesRunTasks(t *testing.T) {
	needBinary(t)
	t.Parallel()
	values := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("tasks: [run]\nrun: {script: echo from a URL}\n"))
	}))
	t.Cleanup(values.Close)
	dir := t.TempDir()
	r := iter8(t, dir, "launch", "--dry", "-f", values.URL+"/values.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, "task 1 is a run task (a shell script) and the values come from "+values.URL) || !strings.Contains(r.stderr, "--allow-run") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	r = iter8(t, dir, "launch", "-f", values.URL+"/values.yaml", "--allow-run")
	if r.code != 0 {
		t.Errorf("with --allow-run: exit %d: %s", r.code, r.stderr)
	}
	big := filepath.Join(dir, "big.yaml")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	_ = f.Truncate(17 << 20)
	_ = f.Close()
	r = iter8(t, dir, "launch", "--dry", "-f", big)
	if r.code != 2 || !strings.Contains(r.stderr, "larger than the 16 MiB iter8 reads") {
		t.Errorf("a 17 MiB values file: exit %d: %s", r.code, r.stderr)
	}
}
