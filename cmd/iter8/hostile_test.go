package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"iter8.tools/iter8/internal/report"
)

// These tests attack the binary as issue 15 describes: planted links,
// devices, FIFOs, hostile servers on 127.0.0.1, and hostile content. Each
// shows the exit code, the one-line reason, and that nothing was read,
// written, leaked or exhausted.

// ranExperiment returns a run directory holding a completed experiment (one
// run task, no network).
func ranExperiment(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	r := iter8(t, dir, "launch", "--set", "tasks={run}", "--set", "run.script=echo hi")
	if r.code != 0 {
		t.Fatalf("launch: exit %d: %s", r.code, r.stderr)
	}
	return dir
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// --output-file writes through to FIFOs, /dev/stdout and links, replaces
// only regular files, and never the experiment it reads.
func TestOutputFileNeverReplacesWhatIsNotARegularFile(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dir := ranExperiment(t)
	exp := filepath.Join(dir, "experiment.yaml")
	before := mustRead(t, exp)

	t.Run("the experiment itself, by name and through a link", func(t *testing.T) {
		if err := os.Symlink("experiment.yaml", filepath.Join(dir, "link.yaml")); err != nil {
			t.Fatal(err)
		}
		for _, out := range []string{"experiment.yaml", "./experiment.yaml", "link.yaml", exp} {
			r := iter8(t, dir, "report", "-o", "yaml", "--output-file", out)
			if r.code != 2 || !strings.Contains(r.stderr, "--output-file "+out+" is the experiment this command reads") {
				t.Errorf("%s: exit %d: %s", out, r.code, r.stderr)
			}
		}
		if mustRead(t, exp) != before {
			t.Error("experiment.yaml changed")
		}
		if fi, err := os.Lstat(filepath.Join(dir, "link.yaml")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the link was replaced: %v %v", fi, err)
		}
	})

	t.Run("/dev/stdout prints", func(t *testing.T) {
		r := iter8(t, dir, "report", "-o", "json", "--output-file", "/dev/stdout")
		if r.code != 0 || !strings.Contains(r.stdout, `"status"`) {
			t.Errorf("exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("a FIFO is written through and stays a FIFO", func(t *testing.T) {
		fifo := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		got := make(chan string, 1)
		go func() {
			f, err := os.Open(fifo) // blocks until the writer opens it
			if err != nil {
				got <- err.Error()
				return
			}
			b, _ := io.ReadAll(f)
			_ = f.Close()
			got <- string(b)
		}()
		r := iter8(t, dir, "report", "-o", "markdown", "--output-file", fifo)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if s := <-got; !strings.Contains(s, "## ") {
			t.Errorf("the reader got %q", s)
		}
		if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("the FIFO was replaced: %v %v", fi, err)
		}
	})

	t.Run("a link is written through to its target and kept", func(t *testing.T) {
		d := t.TempDir()
		target, link := filepath.Join(d, "target.html"), filepath.Join(d, "report.html")
		if err := os.WriteFile(target, []byte("old content that is longer than nothing"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		r := iter8(t, dir, "report", "-o", "html", "--output-file", link)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the link was replaced: %v %v", fi, err)
		}
		if s := mustRead(t, target); !strings.HasPrefix(s, "<!DOCTYPE html>") || strings.Contains(s, "old content") {
			t.Errorf("target: %.60q", s)
		}
		dangling := filepath.Join(d, "dangling.html")
		if err := os.Symlink(filepath.Join(d, "nowhere", "x.html"), dangling); err != nil {
			t.Fatal(err)
		}
		r = iter8(t, dir, "report", "-o", "html", "--output-file", dangling)
		if r.code != 2 || !strings.Contains(r.stderr, "a symbolic link to a file that cannot be opened") {
			t.Errorf("dangling link: exit %d: %s", r.code, r.stderr)
		}
	})

	t.Run("a directory is refused", func(t *testing.T) {
		d := t.TempDir()
		r := iter8(t, dir, "report", "--output-file", d)
		if r.code != 2 || !strings.Contains(r.stderr, "is a directory") {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
	})
}

// Devices stay devices: /dev/null is written through and /dev/full fails
// with exit 2 and its reason, both still character devices afterwards. As
// root the test runs in its own mount namespace with a private /dev, so a
// regression cannot replace the machine's devices.
func TestOutputFileDevices(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dir := ranExperiment(t)
	script := `for d in null full; do
  "$0" report --runDir "$1" --output-file /dev/$d >/dev/stderr 2>&1; echo "$d exit $?"
  stat -c "$d %F" /dev/$d
done`
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		// A tmpfs /dev in a private mount namespace, holding the two devices.
		script = `mount --make-rprivate / && mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/full c 1 7 && ln -s /proc/self/fd/2 /dev/stderr || exit 99
` + script
		cmd = exec.Command("unshare", "-m", "sh", "-c", script, bin, dir)
	} else {
		cmd = exec.Command("sh", "-c", script, bin, dir)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	s := string(out)
	for _, want := range []string{
		"null exit 0", "null character special file",
		"--output-file /dev/full: cannot write to the character device: no space left on device", "full exit 2", "full character special file",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}

// A planted lock link is refused: the file it points to is not truncated.
func TestLockFileDoesNotFollowLinks(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dir := ranExperiment(t)
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(dir, "experiment.yaml.lock")
	_ = os.Remove(lock)
	if err := os.Symlink(victim, lock); err != nil {
		t.Fatal(err)
	}
	r := iter8(t, dir, "run")
	if r.code != 2 || !strings.Contains(r.stderr, "experiment.yaml.lock is a symbolic link: expected a regular file") {
		t.Errorf("link: exit %d: %s", r.code, r.stderr)
	}
	if s := mustRead(t, victim); s != "precious" {
		t.Errorf("the link's target was written: %q", s)
	}
	// A FIFO at the lock path is refused too, without blocking on it.
	_ = os.Remove(lock)
	if err := syscall.Mkfifo(lock, 0o600); err != nil {
		t.Fatal(err)
	}
	r = iter8(t, dir, "run")
	if r.code != 2 || !strings.Contains(r.stderr, "experiment.yaml.lock is a FIFO: expected a regular file") {
		t.Errorf("FIFO: exit %d: %s", r.code, r.stderr)
	}
}

// Output holding characters YAML cannot carry (U+FFFE, DEL) is sanitised:
// the experiment is saved, its state is final, and the failure is recorded.
func TestOddCharactersNeverMakeAnExperimentUnsaveable(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dir := t.TempDir()
	values := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(values, []byte("tasks: [run]\nrun: {script: 'printf \"odd \\357\\277\\276 \\177 end\"; exit 1'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := iter8(t, dir, "launch", "-f", values)
	if r.code != 1 || !strings.Contains(r.stderr, "script exited with code 1") {
		t.Fatalf("exit %d (want 1: the task fails): %s", r.code, r.stderr)
	}
	exp := loadExperiment(t, dir)
	if exp.Result == nil || exp.Result.NumCompletedTasks != 0 || !exp.Result.Failure {
		t.Fatalf("result %+v", exp.Result)
	}
	s := mustRead(t, filepath.Join(dir, "experiment.yaml"))
	if !strings.Contains(s, "odd \uFFFD \uFFFD end") {
		t.Errorf("experiment.yaml lacks the sanitised output:\n%s", s)
	}
	// The task's state is final (failed), not stuck at running.
	if rr := iter8(t, dir, "report", "-o", "json"); rr.code != 0 || !strings.Contains(rr.stdout, `"state": "failed"`) || strings.Contains(rr.stdout, `"state": "running"`) {
		t.Errorf("report: exit %d: %s%s", rr.code, rr.stdout, rr.stderr)
	}
}

// A missing or malformed kubeconfig is bad input (exit 2) naming the
// problem, and nothing is contacted (no fallback to localhost:8080).
func TestKubeconfigProblemsAreBadInput(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("not: [yaml"), 0o600); err != nil {
		t.Fatal(err)
	}
	noCluster := filepath.Join(dir, "empty")
	if err := os.WriteFile(noCluster, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no kubeconfig at all", nil, []string{"k", "report"}, "kubeconfig: no cluster configured"},
		{"a kubeconfig without clusters", []string{"KUBECONFIG=" + noCluster}, []string{"k", "launch", "--set", "tasks={run}", "--set", "run.script=x"}, "kubeconfig: no cluster configured"},
		{"--kubeconfig names a missing file", nil, []string{"k", "log", "--kubeconfig", filepath.Join(dir, "missing")}, "kubeconfig: stat " + filepath.Join(dir, "missing") + ": no such file or directory"},
		{"malformed", []string{"KUBECONFIG=" + bad}, []string{"k", "assert", "-c", "completed"}, `kubeconfig: error loading config file "` + bad + `"`},
		{"unknown context", []string{"KUBECONFIG=" + noCluster}, []string{"k", "delete", "--context", "nope"}, "context was not found for specified context: nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := append([]string{"HOME=" + t.TempDir(), "KUBECONFIG=", "KUBERNETES_SERVICE_HOST="}, tt.env...)
			r := iter8Env(t, t.TempDir(), env, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || strings.Contains(r.stderr, "localhost:8080") {
				t.Errorf("exit %d (want 2), stderr:\n%s", r.code, r.stderr)
			}
		})
	}
}

// leakedPiece returns a piece (8 bytes, any letter case) of secret found in
// text, or "".
func leakedPiece(text, secret string) string {
	lower := strings.ToLower(text)
	for i := 0; i+8 <= len(secret); i++ {
		if p := strings.ToLower(secret[i : i+8]); strings.Contains(lower, p) {
			return secret[i : i+8]
		}
	}
	return ""
}

// A hostile backend echoes the token JSON-escaped (\/), upper-cased, and so
// that iter8's snippet cuts it; a notification URL with an upper-case scheme
// fails. No piece of either secret reaches experiment.yaml, the trace logs,
// a report or assert's output.
func TestEchoedSecretsAreRedactedInEveryForm(t *testing.T) {
	needBinary(t)
	t.Parallel()
	token := "s3cr3t/" + newSecret(t) // a "/" so that JSON encoders may escape it
	hookPath := newSecret(t)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		js, _ := json.Marshal(map[string]string{"error": "bad token " + auth})
		escaped := strings.ReplaceAll(string(js), "/", `\/`)
		w.WriteHeader(http.StatusUnauthorized)
		// The token in full, escaped, upper-cased, then placed so that the
		// 300-byte snippet ends inside it.
		body := escaped + " " + strings.ToUpper(auth) + " "
		body += strings.Repeat("x", 300-len(body)-len(auth)/2) + auth
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(api.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close() // nothing listens: the notification fails with a connection error
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "api.tpl"), []byte(`url: {{ .url }}/api/v1/query
headers: {Authorization: "Bearer {{ .token }}"}
metrics:
- name: ratio
  type: gauge
  jqExpression: .v
`), 0o600); err != nil {
		t.Fatal(err)
	}
	hook := "HTTP" + strings.TrimPrefix(closedURL, "http") + "/services/T0/B0/" + hookPath
	env := []string{"API_TOKEN=" + token, "HOOK_URL=" + hook}
	r := iter8Env(t, dir, env, "launch", "-l", "trace", "--set", "tasks={custommetrics,webhook}",
		"--set", "custommetrics.templates.api=api.tpl", "--set", "custommetrics.values.url="+api.URL,
		"--set", "custommetrics.values.token=${env:API_TOKEN}",
		"--set", "webhook.url=${env:HOOK_URL}", "--set", "webhook.retries=0", "--set", "webhook.softFailure=false")
	if r.code != 1 || !strings.Contains(r.stderr, "notifying http://127.0.0.1:") || !strings.Contains(r.stderr, "/services/hidden: dial tcp") {
		t.Fatalf("launch: exit %d (want 1: the notification fails):\n%s", r.code, r.stderr)
	}
	outputs := map[string]string{"launch logs": r.stdout + r.stderr, "experiment.yaml": mustRead(t, filepath.Join(dir, "experiment.yaml"))}
	for _, f := range report.FormatNames() {
		rr := iter8(t, dir, "report", "-o", f, "-l", "trace")
		outputs["report -o "+f] = rr.stdout + rr.stderr
	}
	ra := iter8(t, dir, "assert", "-c", "completed,nofailure,slos", "-l", "trace")
	outputs["assert"] = ra.stdout + ra.stderr
	for where, text := range outputs {
		for _, s := range []string{token, hookPath} {
			if p := leakedPiece(text, s); p != "" {
				t.Errorf("%q of a secret reached %s:\n%s", p, where, text)
			}
		}
	}
	if !strings.Contains(outputs["experiment.yaml"], "HTTP 401 Unauthorized") || !strings.Contains(outputs["experiment.yaml"], "[redacted]") {
		t.Errorf("experiment.yaml lacks the redacted error:\n%s", outputs["experiment.yaml"])
	}
}

// Secrets given as they are, in the forms the first detector missed, are
// kept out of the experiment like every literal secret: the command runs
// with a warning naming the value, experiment.yaml references a 0600 file
// in experiment.secrets, and nothing it prints repeats the secret. Where the
// input does not resolve references (a load URL, a run script), the
// literal is refused (exit 2) before anything is written.
func TestLiteralSecretsInEveryFormKeptOut(t *testing.T) {
	needBinary(t)
	t.Parallel()
	const lit = "hunter2pw"
	http1 := []string{"--set", "tasks={http}", "--set", "http.url=http://127.0.0.1:1/"}
	tests := []struct {
		name string
		args []string
		want string // refused: the message; kept: the value named
		code int
	}{
		{"mixed literal and reference", append(http1, "--set", "http.headers.Authorization=Bearer "+lit+"${env:X}"), "http.headers.Authorization", 0},
		{"the $${ escape", append(http1, "--set", "http.headers.Authorization=$${"+lit+"}"), "http.headers.Authorization", 0},
		{"X-Auth", append(http1, "--set", "http.headers.X-Auth="+lit), "http.headers.X-Auth", 0},
		{"Authorisation", append(http1, "--set", "http.headers.Authorisation="+lit), "http.headers.Authorisation", 0},
		{"X-JWT", append(http1, "--set", "http.headers.X-JWT="+lit), "http.headers.X-JWT", 0},
		{"X-Access-Key", append(http1, "--set", "http.headers.X-Access-Key="+lit), "http.headers.X-Access-Key", 0},
		{"Cookie", append(http1, "--set", "http.headers.Cookie=session="+lit), "http.headers.Cookie", 0},
		{"a MySQL DSN in a template value", []string{"--set", "tasks={custommetrics}", "--set", "custommetrics.templates.db=db.tpl", "--set", "custommetrics.values.db=iter8:" + lit + "@tcp(127.0.0.1:3306)/orders"}, "custommetrics.values.db", 0},
		{"a Slack webhook to the webhook wrapper", []string{"--set", "tasks={webhook}", "--set", "webhook.url=https://hooks.slack.com/services/T0/B0/" + lit}, "webhook.url", 0},
		{"an upper-case Slack webhook", []string{"--set", "tasks={webhook}", "--set", "webhook.url=HTTPS://HOOKS.SLACK.COM/services/T0/B0/" + lit}, "webhook.url", 0},
		{"a Slack URL with an escape", []string{"--set", "tasks={slack}", "--set", "slack.url=https://hooks.slack.com/services/T0/B0/" + lit + "$${x}"}, "slack.url", 0},
		{"a token in a query", []string{"--set", "tasks={webhook}", "--set", "webhook.url=http://127.0.0.1:1/hook?access_token=" + lit}, "webhook.url", 0},
		{"a password in a URL", []string{"--set", "tasks={http}", "--set", "http.url=http://user:" + lit + "@127.0.0.1:1/"}, `field "url": invalid value "(hidden)": expected no secret given as it is (found a password inside a URL): this input resolves no references`, 2},
		{"a DSN in a script", []string{"--set", "tasks={run}", "--set", "run.script=psql postgres://iter8:" + lit + "@127.0.0.1/orders"}, `field "script"`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			r := iter8(t, dir, append([]string{"gen", "-l", "trace"}, tt.args...)...)
			if strings.Contains(r.stdout+r.stderr, lit) {
				t.Errorf("the output repeats the secret:\n%s", r.stderr)
			}
			if tt.code != 0 {
				if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
					t.Errorf("exit %d (want %d), stderr:\n%s", r.code, tt.code, r.stderr)
				}
				if _, err := os.Stat(filepath.Join(dir, "experiment.yaml")); err == nil {
					t.Error("experiment.yaml was written")
				}
				return
			}
			if r.code != 0 || !strings.Contains(r.stderr, "secrets given as they are") || !strings.Contains(r.stderr, "values="+tt.want) {
				t.Fatalf("exit %d (want 0 with a warning naming %s), stderr:\n%s", r.code, tt.want, r.stderr)
			}
			if doc := mustRead(t, filepath.Join(dir, "experiment.yaml")); strings.Contains(doc, lit) || !strings.Contains(doc, "${file:"+filepath.Join(dir, "experiment.secrets")+"/") {
				t.Errorf("experiment.yaml:\n%s", doc)
			}
			kept := filepath.Join(dir, "experiment.secrets", tt.want)
			if b, err := os.ReadFile(kept); err != nil || !strings.Contains(string(b), lit) {
				t.Errorf("%s: %v %q", kept, err, b)
			}
		})
	}
}

// metricsTemplate is a custom-metrics provider template whose one query
// parameter renders body.
func metricsTemplate(body string) string {
	return "url: http://127.0.0.1:1/q\nmetrics:\n- name: m\n  type: gauge\n  jqExpression: .v\n  params: [{name: q, value: '" + body + "'}]\n"
}

// iter8Measured runs the binary in dir and also returns its peak memory.
func iter8Measured(t *testing.T, dir string, args ...string) (result, int64) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	r := runBinary(t, cmd)
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss << 10 // KiB on Linux
	}
	return r, rss
}

// Expressions and templates built to exhaust memory (nested repeat, a range
// over 300 million items, a string doubled 64 times, a printf width of a
// billion) stop with an error naming the expression or template; the
// process stays small.
func TestExpressionsAndTemplatesHaveBoundedCost(t *testing.T) {
	needBinary(t)
	t.Parallel()
	served := map[string]string{
		"/range.tpl": metricsTemplate(`{{ range until 300000000 }}x{{ end }}`),
		"/int.tpl":   metricsTemplate(`{{ range 1000000000000 }}{{ end }}`),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, served[r.URL.Path])
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name   string
		values string
		code   int
		want   string
	}{
		{"nested repeat in if:", "tasks: [run]\nrun: {script: echo, if: 'repeat(repeat(\"x\", 100000), 100000) == \"\"'}\n", 2,
			`field "if": invalid value "repeat(repeat(\"x\", 100000), 100000) == \"\"": expected a boolean expression of bounded cost`},
		{"a range in if:", "tasks: [run]\nrun: {script: echo, if: 'len(map(1..1000000000, {#})) > 0'}\n", 2, "ranges (a..b) are not allowed"},
		{"a closure in if:", "tasks: [run]\nrun: {script: echo, if: 'reduce(Result.Insights.VersionNames, #acc + #acc, \"x\") == \"\"'}\n", 2, "closures such as map, filter or reduce are not allowed"},
		{"until 300000000 in a template from a URL", "tasks: [custommetrics]\ncustommetrics: {templates: {p: " + srv.URL + "/range.tpl}}\n", 1,
			"template " + srv.URL + "/range.tpl does not render: template: p:6:38: executing \"p\" at <until 300000000>: error calling until: template cost: until would make 300000000 items, more than the 100000 allowed"},
		{"a range over a huge number", "tasks: [custommetrics]\ncustommetrics: {templates: {p: " + srv.URL + "/int.tpl}}\n", 1, "range 1000000000000 is more than the 100000 iterations allowed"},
		{"a string doubled 64 times in a payload", "tasks: [webhook]\nwebhook: {url: 'http://127.0.0.1:1/', softFailure: false, retries: 0, payloadTemplate: '{{ $s := \"x\" }}{{ range until 64 }}{{ $s = cat $s $s }}{{ end }}{{ $s }}'}\n", 1,
			"payload template: template: payload:1:43: executing \"payload\" at <cat $s $s>: error calling cat: template cost: cat returned 2097151 bytes, more than the 1048576 allowed"},
		{"a printf width of a billion", "tasks: [webhook]\nwebhook: {url: 'http://127.0.0.1:1/', softFailure: false, retries: 0, payloadTemplate: '{{ printf \"%01000000000d\" 1 }}'}\n", 1, "printf width 1000000000 is more than the 1048576 bytes allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "values.yaml"), []byte(tt.values), 0o600); err != nil {
				t.Fatal(err)
			}
			r, rss := iter8Measured(t, dir, "launch", "-f", "values.yaml")
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d (want %d), stderr lacks %q:\n%s", r.code, tt.code, tt.want, r.stderr)
			}
			if rss > 512<<20 {
				t.Errorf("peak memory %d MiB", rss>>20)
			}
		})
	}
}

// A values file with a key given twice is bad input naming the key.
func TestDuplicateValuesKeysRefused(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "values.yaml"), []byte("tasks: [http]\nhttp:\n  url: http://127.0.0.1:1/\n  qps: 1\n  qps: 200\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := iter8(t, dir, "launch", "--dry", "-f", "values.yaml")
	if r.code != 2 || !strings.Contains(r.stderr, "values: values.yaml: key http.qps is given twice (lines 4 and 5): expected each key once") {
		t.Errorf("exit %d: %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "experiment.yaml")); err == nil {
		t.Error("experiment.yaml was written")
	}
}

// The http task does not follow redirects: a 3xx answer counts as a
// success, unless errorRanges says otherwise.
func TestRedirectsCountAsSuccessUnlessErrorRangesSayOtherwise(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		name   string
		extra  []string
		errors float64
	}{
		{"default", nil, 0},
		{"errorRanges from 300", []string{"--set", "http.errorRanges[0].lower=300"}, 5},
	} {
		dir := t.TempDir()
		args := append([]string{"launch", "--set", "tasks={http}", "--set", "http.url=" + srv.URL + "/", "--set", "http.numRequests=5"}, tt.extra...)
		r := iter8(t, dir, args...)
		if r.code != 0 {
			t.Fatalf("%s: exit %d: %s", tt.name, r.code, r.stderr)
		}
		exp := loadExperiment(t, dir)
		n, _ := exp.Result.Insights.Value("http/error-count", 0)
		total, _ := exp.Result.Insights.Value("http/request-count", 0)
		if n != tt.errors || total != 5 {
			t.Errorf("%s: http/error-count %v of %v, want %v of 5", tt.name, n, total, tt.errors)
		}
	}
}
