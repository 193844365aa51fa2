package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"iter8.tools/iter8/internal/report"
)

// A token read from the environment and one read from a file authorise
// custom metrics queries, and appear nowhere: not in experiment.yaml, not in
// the logs (at trace level), not in any report format, not in assert's
// messages, even when the server echoes them in an error.
func TestSecretsStayOutOfOutputs(t *testing.T) {
	needBinary(t)
	t.Parallel()
	secret := func() string {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		return "s3cr3t-" + hex.EncodeToString(b)
	}
	envToken, fileToken := secret(), secret()
	var authorized atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		switch {
		case r.URL.Path == "/api/v1/query" && auth == "Bearer "+envToken:
			authorized.Add(1)
			_, _ = fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.25"]}]}}`)
		case r.URL.Path == "/echo" && auth == "Bearer "+fileToken:
			authorized.Add(1)
			w.WriteHeader(http.StatusForbidden)
			_, _ = fmt.Fprintf(w, "denied: header %q, query %q", auth, r.URL.RawQuery)
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(api.Close)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	files := map[string]string{
		"token": fileToken + "\n",
		"api.tpl": `url: {{ .url }}/api/v1/query
headers: {Authorization: "Bearer {{ .token }}"}
metrics:
- name: ratio
  type: gauge
  params: [{name: query, value: 'sum(rate(x[1m]))'}]
  jqExpression: .data.result[0].value[1]
`,
		"echo.tpl": `url: {{ .url }}/echo
headers: {Authorization: "Bearer {{ .fileToken }}"}
metrics:
- name: ratio
  type: gauge
  params: [{name: key, value: '{{ .fileToken }}'}]
  jqExpression: .v
`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"API_TOKEN=" + envToken}
	outputs := map[string]string{}
	r := iter8Env(t, dir, env, "launch", "-l", "trace", "--set", "tasks={custommetrics,assess}",
		"--set", "custommetrics.templates.api=api.tpl", "--set", "custommetrics.templates.echo=echo.tpl",
		"--set", "custommetrics.values.url="+api.URL,
		"--set", "custommetrics.values.token=${env:API_TOKEN}",
		"--set", "custommetrics.values.fileToken=${file:"+tokenFile+"}",
		"--set", "assess.SLOs.upper.api/ratio=0.5", "--set", "assess.SLOs.upper.echo/ratio=1")
	if r.code != 0 {
		t.Fatalf("launch exited %d:\n%s", r.code, r.stderr)
	}
	outputs["launch logs"] = r.stdout + r.stderr
	if authorized.Load() != 2 {
		t.Fatalf("the API saw the right tokens %d times, want 2 (so the secrets were not used):\n%s", authorized.Load(), r.stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, "experiment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	outputs["experiment.yaml"] = string(b)
	for _, f := range report.FormatNames() {
		r := iter8(t, dir, "report", "-o", f)
		if r.code != 0 {
			t.Fatalf("report -o %s exited %d: %s", f, r.code, r.stderr)
		}
		outputs["report -o "+f] = r.stdout + r.stderr
	}
	r = iter8(t, dir, "assert", "-c", "completed,nofailure,slos")
	if r.code != 1 {
		t.Errorf("assert exited %d, want 1 (echo/ratio has an error):\n%s", r.code, r.stderr)
	}
	outputs["assert"] = r.stdout + r.stderr
	for what, out := range outputs {
		for _, tok := range []string{envToken, fileToken} {
			if strings.Contains(out, tok) {
				t.Errorf("%s contains a secret:\n%s", what, out)
			}
		}
	}
	// The outputs carry the references, the value and the redacted error.
	for what, want := range map[string]string{
		"experiment.yaml": "token: ${env:API_TOKEN}",
		"report -o text":  "api/ratio <= 0.5 | true",
		"assert":          `its query failed (GET ` + api.URL + `/echo: HTTP 403 Forbidden: denied: header \"Bearer [redacted]\", query \"key=[redacted]\")`,
	} {
		if !strings.Contains(strings.Join(strings.Fields(outputs[what]), " "), want) {
			t.Errorf("%s lacks %q:\n%s", what, want, outputs[what])
		}
	}
}
