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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"iter8.tools/iter8/internal/report"
)

// tutorialCommand reads a command of the original's tutorials kept in
// testdata/original (its README names the source), joins its continued
// lines and splits it as a shell would (double quotes only, all the
// tutorials use). subs rewrite its placeholders and targets.
func tutorialCommand(t *testing.T, path string, subs map[string]string) []string {
	t.Helper()
	text := strings.ReplaceAll(string(originalFile(t, path)), "\\\n", " ")
	for from, to := range subs { // as the user types them in
		text = strings.ReplaceAll(text, from, to)
	}
	var args []string
	var cur strings.Builder
	quoted, in := false, false
	for _, r := range text {
		switch {
		case r == '"':
			quoted, in = !quoted, true
		case (r == ' ' || r == '\n' || r == '\t') && !quoted:
			if in {
				args = append(args, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		args = append(args, cur.String())
	}
	if len(args) == 0 || args[0] != "iter8" {
		t.Fatalf("%s: not an iter8 command: %q", path, args)
	}
	return args[1:]
}

// The original's Slack and GitHub tutorials give the webhook URL and the
// token as they are. Their exact commands run, with a warning; the secrets
// reach the services, and never experiment.yaml, the logs at any level, a
// report in any format or assert's output: they are kept in
// experiment.secrets, 0600. A service that echoes the token in its error
// is redacted.
func TestTutorialLiteralSecretsRunAndStayOut(t *testing.T) {
	needBinary(t)
	t.Parallel()
	hookPath, token := newSecret(t), newSecret(t)
	var mu sync.Mutex
	seen := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[r.URL.Path] = r.Header.Get("Authorization") + "|" + string(body)
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/dispatches") {
			// GitHub refuses a bad token, and says which
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"message":"Bad credentials: `+r.Header.Get("Authorization")+`"}`)
		}
	}))
	t.Cleanup(srv.Close)
	slackPath := "/services/T0/B0/" + hookPath
	subs := map[string]string{
		"http://127.0.0.1/get": srv.URL + "/get",
		"<Slack webhook>":      srv.URL + slackPath,
		"<GitHub owner>":       "o", "<GitHub repository>": "r", "<GitHub token>": token,
	}
	for _, tc := range []struct {
		script, value, key string
		extra              []string
	}{
		{"docs-f4e8e78/slack-launch.sh", "slack.url", "slack.url", nil},
		// the GitHub API, rewritten to the local server
		{"docs-f4e8e78/github-launch.sh", "github.token", "github.token", []string{"--set", "github.apiURL=" + srv.URL}},
	} {
		t.Run(tc.script, func(t *testing.T) {
			dir := t.TempDir()
			args := append(tutorialCommand(t, tc.script, subs), tc.extra...)
			r := iter8(t, dir, append(args, "-l", "trace")...)
			if r.code != 0 || !strings.Contains(r.stderr, "secrets given as they are") || !strings.Contains(r.stderr, "values="+tc.value) {
				t.Fatalf("iter8 %s: exit %d (want 0 with a warning naming %s):\n%s", strings.Join(args, " "), r.code, tc.value, r.stderr)
			}
			kept := filepath.Join(dir, "experiment.secrets", tc.key)
			fi, err := os.Stat(kept)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("kept secret %s: %v, mode %v (want 0600)", kept, err, fi.Mode())
			}
			outputs := map[string]string{"launch logs": r.stdout + r.stderr, "experiment.yaml": mustRead(t, filepath.Join(dir, "experiment.yaml"))}
			for _, f := range report.FormatNames() {
				rr := iter8(t, dir, "report", "-o", f, "-l", "trace")
				outputs["report -o "+f] = rr.stdout + rr.stderr
			}
			ra := iter8(t, dir, "assert", "-c", "completed,nofailure", "-l", "trace")
			if ra.code != 0 {
				t.Errorf("assert: exit %d:\n%s", ra.code, ra.stderr)
			}
			outputs["assert"] = ra.stdout + ra.stderr
			for where, text := range outputs {
				for _, s := range []string{hookPath, token} {
					if p := leakedPiece(text, s); p != "" {
						t.Errorf("%q of a secret reached %s:\n%s", p, where, text)
					}
				}
			}
			if !strings.Contains(outputs["experiment.yaml"], "${file:"+kept+"}") {
				t.Errorf("experiment.yaml does not reference %s:\n%s", kept, outputs["experiment.yaml"])
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if got := seen[slackPath]; !strings.Contains(got, `"text"`) && !strings.Contains(got, `"blocks"`) {
		t.Errorf("the Slack webhook got %q", got)
	}
	if got := seen["/repos/o/r/dispatches"]; !strings.HasPrefix(got, "token "+token+"|") {
		t.Errorf("the GitHub API got %q", got)
	}
}

// The tutorials' k launch commands keep the literal in the experiment's
// Secret under its own key, mounted in the pod, where the experiment (the
// Secret's experiment.yaml) references it; the manifest is 0600.
func TestTutorialLiteralSecretsKLaunchDry(t *testing.T) {
	needBinary(t)
	t.Parallel()
	hookPath, token := newSecret(t), newSecret(t)
	subs := map[string]string{
		"<Slack webhook>": "http://127.0.0.1:1/services/T0/B0/" + hookPath,
		"<GitHub owner>":  "o", "<GitHub repository>": "r", "<GitHub token>": token,
	}
	for _, tc := range []struct{ script, key, secret, ref string }{
		{"docs-f4e8e78/slack-k-launch.sh", "slack.url", hookPath, `url: "${file:/var/run/secrets/iter8/slack.url}"`},
		{"docs-f4e8e78/github-k-launch.sh", "github.token", token, `Authorization: "token ${file:/var/run/secrets/iter8/github.token}"`},
	} {
		t.Run(tc.script, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append(tutorialCommand(t, tc.script, subs), "--dry")
			r := iter8(t, dir, args...)
			if r.code != 0 || !strings.Contains(r.stderr, "values="+tc.key) || strings.Contains(r.stderr, tc.secret) {
				t.Fatalf("iter8 %s: exit %d:\n%s", strings.Join(args, " "), r.code, r.stderr)
			}
			path := filepath.Join(dir, "manifest.yaml")
			m := mustRead(t, path)
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("manifest.yaml: %v, mode %v (want 0600: it holds the Secret's data)", err, fi.Mode())
			}
			// The literal appears once, as the Secret's own key.
			if n := strings.Count(m, tc.secret); n != 1 || !strings.Contains(m, "\n  "+tc.key+": \"") {
				t.Errorf("the secret appears %d times, want once under key %s:\n%s", n, tc.key, m)
			}
			mustContain(t, "manifest", m, tc.ref, "mountPath: /var/run/secrets/iter8", "- key: "+tc.key, "kind: CronJob")
		})
	}
}

// Launched for real (on the test control plane), the tutorial's literal
// is a key of the experiment's Secret of its own; the experiment in the
// Secret references the file the Job's pod mounts from it.
func TestTutorialLiteralSecretsKLaunch(t *testing.T) {
	needBinary(t)
	t.Parallel()
	cl := newCluster(t)
	hookPath := newSecret(t)
	args := tutorialCommand(t, "docs-f4e8e78/slack-k-launch.sh", map[string]string{"<Slack webhook>": "http://127.0.0.1:1/services/T0/B0/" + hookPath})
	r := cl.k(t, t.TempDir(), args[1:]...)
	if r.code != 0 || strings.Contains(r.stderr, hookPath) {
		t.Fatalf("k launch: exit %d:\n%s", r.code, r.stderr)
	}
	s, err := cl.c.CoreV1().Secrets(cl.ns).Get(ctxT(t), "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(s.Data["slack.url"]); !strings.HasSuffix(got, "/services/T0/B0/"+hookPath) {
		t.Errorf("the Secret's slack.url key holds %q", got)
	}
	doc := string(s.Data["experiment.yaml"])
	if strings.Contains(doc, hookPath) || !strings.Contains(doc, "url: \"${file:/var/run/secrets/iter8/slack.url}\"") {
		t.Errorf("the Secret's experiment.yaml:\n%s", doc)
	}
	cj, err := cl.c.BatchV1().CronJobs(cl.ns).Get(ctxT(t), "default-1-cronjob", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	var mounted bool
	for _, v := range pod.Volumes {
		if v.Secret != nil && v.Secret.SecretName == "default" && len(v.Secret.Items) == 1 && v.Secret.Items[0].Key == "slack.url" {
			for _, m := range pod.Containers[0].VolumeMounts {
				mounted = mounted || (m.Name == v.Name && m.MountPath == "/var/run/secrets/iter8" && m.ReadOnly)
			}
		}
	}
	if !mounted {
		t.Errorf("the pod does not mount the kept secret: %+v", pod.Volumes)
	}
}

// An experiment file as the original's chart wrote it for the GitHub
// tutorial (iter8 v0.11.16 charts/iter8/templates/_task-github.tpl, its
// target and payload URL rewritten to a local server) holds the token as it
// is. iter8 run moves it out, with a warning, before anything runs: the
// token reaches the API, and never experiment.yaml, a report or assert.
func TestOriginalExperimentWithLiteralTokenRuns(t *testing.T) {
	needBinary(t)
	t.Parallel()
	token := newSecret(t)
	payload := originalFile(t, "v0.11.16/charts/iter8/templates/_payload-github.tpl")
	var mu sync.Mutex
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/payload-github.tpl":
			_, _ = w.Write(payload)
		case "/repos/o/r/dispatches":
			mu.Lock()
			got = r.Header.Get("Authorization")
			mu.Unlock()
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	doc := `spec:
# task: send a GitHub notification
- task: notify
  with:
    url: ` + srv.URL + `/repos/o/r/dispatches
    method: POST
    headers:
      Authorization: token ` + token + `
      Accept: application/vnd.github+json
    payloadTemplateURL: ` + srv.URL + `/payload-github.tpl
    softFailure: false
`
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	r := iter8(t, dir, "run", "-l", "trace")
	if r.code != 0 || !strings.Contains(r.stderr, "inputs=task1.headers.Authorization") {
		t.Fatalf("run: exit %d (want 0 with a warning):\n%s", r.code, r.stderr)
	}
	mu.Lock()
	if got != "token "+token {
		t.Errorf("the API got Authorization %q", got)
	}
	mu.Unlock()
	kept := filepath.Join(dir, "experiment.secrets", "task1.headers.Authorization")
	if fi, err := os.Stat(kept); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("kept secret: %v", err)
	}
	outputs := map[string]string{"run logs": r.stdout + r.stderr, "experiment.yaml": mustRead(t, filepath.Join(dir, "experiment.yaml"))}
	for _, f := range report.FormatNames() {
		rr := iter8(t, dir, "report", "-o", f)
		outputs["report -o "+f] = rr.stdout + rr.stderr
	}
	ra := iter8(t, dir, "assert", "-c", "completed,nofailure")
	outputs["assert"] = ra.stdout + ra.stderr
	for where, text := range outputs {
		if p := leakedPiece(text, token); p != "" {
			t.Errorf("%q of the token reached %s:\n%s", p, where, text)
		}
	}
	if !strings.Contains(outputs["experiment.yaml"], "${file:"+kept+"}") || ra.code != 0 {
		t.Errorf("assert exit %d; experiment.yaml:\n%s", ra.code, outputs["experiment.yaml"])
	}
	// a second run finds nothing to move
	if r := iter8(t, dir, "run"); r.code != 0 || strings.Contains(r.stderr, "secrets given as they are") {
		t.Errorf("second run: exit %d:\n%s", r.code, r.stderr)
	}
}

// Values from a URL may still not read local secrets, and keeping a literal
// secret does not change that: remote values choose where requests go, so a
// literal secret (kept beside the experiment, and referenced) is refused
// like a reference (exit 2, naming the value and the URL) unless
// --allow-local-secrets is given; remote values that name a kept secret's
// file are refused too. Nothing is written.
func TestRemoteValuesAndKeptSecrets(t *testing.T) {
	needBinary(t)
	t.Parallel()
	lit := newSecret(t)
	dir := t.TempDir()
	kept := filepath.Join(dir, "experiment.secrets", "http.headers.Authorization")
	served := map[string]string{
		"/plain.yaml":   "tasks: [http]\nhttp: {url: 'http://127.0.0.1:1/'}\n",
		"/literal.yaml": "tasks: [http]\nhttp: {url: 'http://127.0.0.1:1/', headers: {X-Api-Key: '" + lit + "'}}\n",
		"/steal.yaml":   "tasks: [http,webhook]\nhttp: {url: 'http://127.0.0.1:1/'}\nwebhook: {url: 'http://127.0.0.1:1/?k=${file:" + kept + "}'}\n",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, served[r.URL.Path])
	}))
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a literal on the command line", []string{"-f", srv.URL + "/plain.yaml", "--set", "http.headers.Authorization=" + lit}, "input headers.Authorization"},
		{"a literal in the remote values", []string{"-f", srv.URL + "/literal.yaml"}, "input headers.X-Api-Key"},
		{"remote values naming a kept secret", []string{"-f", srv.URL + "/steal.yaml", "--set", "http.headers.Authorization=" + lit}, "value webhook.url: references a secret iter8 keeps beside the experiment"},
	} {
		r := iter8(t, dir, append([]string{"gen"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Contains(r.stderr, lit) {
			t.Errorf("%s: exit %d (want 2), stderr:\n%s", tc.name, r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "experiment.yaml")); err == nil {
			t.Fatalf("%s: experiment.yaml written", tc.name)
		}
	}
	r := iter8(t, dir, "gen", "-f", srv.URL+"/plain.yaml", "--set", "http.headers.Authorization="+lit, "--allow-local-secrets")
	if r.code != 0 || strings.Contains(mustRead(t, filepath.Join(dir, "experiment.yaml")), lit) {
		t.Fatalf("--allow-local-secrets: exit %d:\n%s", r.code, r.stderr)
	}
	if b, err := os.ReadFile(kept); err != nil || string(b) != lit {
		t.Errorf("kept %q, %v", b, err)
	}
}
