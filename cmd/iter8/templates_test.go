package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"iter8.tools/iter8/internal/demo"
)

// A notification payload template that writes a secret reference itself,
// given inline or fetched from a URL, is refused (exit 2, even with
// softFailure) naming the reference and the template's source; nothing is
// sent. References the experiment holds may still show in a payload.
func TestPayloadTemplatesRenderNoSecretReferences(t *testing.T) {
	needBinary(t)
	t.Parallel()
	var posts sync.Map // path -> true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/evil.tpl":
			_, _ = io.WriteString(w, `{"t": "{{ printf "${%s:%s}" "env" "AWS_SECRET_ACCESS_KEY" }}"}`)
		default:
			posts.Store(r.URL.Path, true)
		}
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name, values, want string
		code               int
	}{
		{"inline", "tasks: [webhook]\nwebhook: {url: '" + srv.URL + "/inline', payloadTemplate: '{\"t\": \"${env:HOME}\"}'}\n",
			"payload template payloadTemplate renders the secret reference ${env:HOME}: a notification payload is sent as rendered and never resolved", 2},
		{"url (a template from a URL)", "tasks: [webhook]\nwebhook: {url: '" + srv.URL + "/url', payloadTemplateURL: '" + srv.URL + "/evil.tpl'}\n",
			"payload template " + srv.URL + "/evil.tpl came from a URL and renders the secret reference ${env:AWS_SECRET_ACCESS_KEY}", 2},
		{"own (the experiment's references)", "tasks: [webhook]\nwebhook: {url: '" + srv.URL + "/own', headers: {X-Key: '${env:HOME}'}, payloadTemplate: '{{ .Report.Experiment | toJson }}'}\n", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "values.yaml"), []byte(tt.values), 0o600); err != nil {
				t.Fatal(err)
			}
			r := iter8(t, dir, "launch", "-f", "values.yaml")
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d (want %d), stderr lacks %q:\n%s", r.code, tt.code, tt.want, r.stderr)
			}
			if _, sent := posts.Load("/" + strings.Fields(tt.name)[0]); sent != (tt.code == 0) {
				t.Errorf("notification sent: %v", sent)
			}
		})
	}
}

// Templates from a URL built to run for ever without calling a function
// (nested loops over a list, doubling recursion) or to keep gigabytes in
// variables are stopped by their budgets: the task fails naming the
// template, and the process stays small and ends.
func TestTemplatesAreStoppedNotAbandoned(t *testing.T) {
	needBinary(t)
	t.Parallel()
	served := map[string]string{
		"/loops.tpl":     metricsTemplate(`{{ $l := until 100000 }}{{ range $l }}{{ range $l }}{{ range $l }}{{ end }}{{ end }}{{ end }}`),
		"/recursion.tpl": `{{ define "a" }}{{ template "a" . }}{{ template "a" . }}{{ end }}{{ template "a" . }}`,
		"/memory.tpl":    metricsTemplate(`{{ $l := list }}{{ range until 100000 }}{{ $l = append $l (repeat 1000000 "x") }}{{ end }}`),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, served[r.URL.Path])
	}))
	t.Cleanup(srv.Close)
	for _, name := range []string{"loops", "recursion", "memory"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			u := srv.URL + "/" + name + ".tpl"
			r, rss := iter8Measured(t, dir, "launch", "--set", "tasks={custommetrics}", "--set", "custommetrics.templates.p="+u)
			stopped := strings.Contains(r.stderr, "template cost: ") || strings.Contains(r.stderr, "exceeded maximum template depth")
			if r.code != 1 || !strings.Contains(r.stderr, "template "+u+" does not render") || !stopped {
				t.Errorf("exit %d (want 1, the template stopped), stderr:\n%s", r.code, r.stderr)
			}
			if rss > 512<<20 {
				t.Errorf("peak memory %d MiB", rss>>20)
			}
		})
	}
}

// A gRPC data template, rendered once per request, is bounded like every
// template: one from a URL built to loop for ever stops the task with an
// error naming the data template; an ordinary one renders each request.
func TestGRPCDataTemplatesAreBounded(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv, err := demo.StartGRPC(demo.GRPCConfig{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	served := map[string]string{
		"/loops.json": `{"name": "{{ $l := until 100000 }}{{ range $l }}{{ range $l }}{{ end }}{{ end }}"}`,
		"/huge.json":  `{"name": "{{ range until 100000 }}{{ printf "%1000000d" 1 }}{{ end }}"}`,
		"/ok.json":    `{"name": "n{{ .RequestNumber }}"}`,
	}
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, served[r.URL.Path])
	}))
	t.Cleanup(files.Close)
	grpc := func(data string) []string {
		return []string{"launch", "--set", "tasks={grpc}", "--set", "grpc.host=" + srv.Addr(), "--set", "grpc.call=helloworld.Greeter.SayHello",
			"--set", "grpc.total=5", "--set", "grpc.dataURL=" + files.URL + data}
	}
	for _, tc := range []struct{ data, want string }{
		{"/loops.json", "rendering took longer than its time budget of 1s"},
		{"/huge.json", "the output is larger than the 4194304 bytes allowed"},
	} {
		r, rss := iter8Measured(t, t.TempDir(), grpc(tc.data)...)
		if r.code == 0 || !strings.Contains(r.stderr, "data template: ") || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr:\n%s", tc.data, r.code, r.stderr)
		}
		if rss > 512<<20 {
			t.Errorf("%s: peak memory %d MiB", tc.data, rss>>20)
		}
	}
	if r := iter8(t, t.TempDir(), grpc("/ok.json")...); r.code != 0 || !strings.Contains(srv.LastRequest("SayHello"), `"n`) {
		t.Errorf("exit %d, last request %s:\n%s", r.code, srv.LastRequest("SayHello"), r.stderr)
	}
}

// A chart's functions are bounded too: a local chart whose template asks
// for 300 million items, or doubles a string without end, fails to render
// (exit 2) naming the template, and the process stays small.
func TestChartRenderingIsBounded(t *testing.T) {
	needBinary(t)
	t.Parallel()
	for _, tc := range []struct{ name, text, want string }{
		{"until", `{{ range until 300000000 }}x{{ end }}`, "until would make 300000000 items, more than the 1000000 allowed"},
		{"doubling", `{{ $s := "x" }}{{ range until 64 }}{{ $s = cat $s $s }}{{ end }}{{ $s }}`, "cat returned 33554431 bytes, more than the 16777216 allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			if r := iter8(t, parent, "hub"); r.code != 0 {
				t.Fatalf("hub: exit %d: %s", r.code, r.stderr)
			}
			ch := filepath.Join(parent, "charts", "iter8")
			if err := os.WriteFile(filepath.Join(ch, "templates", "bomb.yaml"), []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			r, rss := iter8Measured(t, parent, "k", "launch", "--dry", "--localChart", "-c", ch, "--set", "tasks={http}", "--set", "http.url=http://127.0.0.1:1/")
			if r.code != 2 || !strings.Contains(r.stderr, "bomb.yaml") || !strings.Contains(r.stderr, "template cost: "+tc.want) {
				t.Errorf("exit %d (want 2), stderr:\n%s", r.code, r.stderr)
			}
			if rss > 512<<20 {
				t.Errorf("peak memory %d MiB", rss>>20)
			}
		})
	}
}
