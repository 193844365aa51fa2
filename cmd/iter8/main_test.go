package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"iter8.tools/iter8/internal/demo"
	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/k8s/k8snode"
	"iter8.tools/iter8/internal/k8s/k8stest"
)

// bin is the iter8 binary built once for these tests.
var bin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// No go build, no binary: every test that runs it calls needBinary.
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "iter8-bin-")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "iter8")
	// Built as the Dockerfile builds the image's binary: static, -trimpath.
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		panic("building iter8: " + err.Error())
	}
	code := m.Run()
	if err := k8stest.StopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the Kubernetes control plane:", err)
	}
	// The real node must leave the host as it was: a difference fails the run.
	if err := k8snode.StopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping the Kubernetes node:", err)
		code = max(code, 1)
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// needBinary skips, in short mode, a test that runs the iter8 binary (built
// by TestMain with go build) as a separate process.
func needBinary(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the iter8 binary as a process (signals, exit codes, durability, Kubernetes pods); runs without -short")
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// iter8 runs the binary in dir and returns its exit code and output.
func iter8(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return iter8Env(t, dir, nil, args...)
}

// iter8Env runs the binary in dir with extra environment variables.
func iter8Env(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	needBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	return runBinary(t, cmd)
}

// runBinary runs cmd, a command of the iter8 binary, and returns its exit
// code and output; a failure to start fails the test.
func runBinary(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("iter8 %v: %v", cmd.Args[1:], err)
	}
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

func startTarget(t *testing.T) *demo.HTTP {
	t.Helper()
	srv, err := demo.StartHTTP(demo.HTTPConfig{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func loadExperiment(t *testing.T, dir string) *experiment.Experiment {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "experiment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := experiment.Decode(b)
	if err != nil {
		t.Fatalf("experiment.yaml does not parse: %v\n%s", err, b)
	}
	return exp
}

// The end-to-end flow, exactly as a user types it.
func TestLaunchReportAssert(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := startTarget(t)
	dir := t.TempDir()
	r := iter8(t, dir, "launch", "--set", "tasks={http,assess}", "--set", "http.url="+srv.URL()+"/get",
		"--set", "assess.SLOs.upper.http/latency-mean=50", "--set", "assess.SLOs.upper.http/error-count=0")
	if r.code != 0 {
		t.Fatalf("launch exited %d: %s", r.code, r.stderr)
	}
	if got := srv.Count("GET", "/get"); got != 100 { // exactly numRequests' default
		t.Errorf("server saw %d requests, want 100", got)
	}
	r = iter8(t, dir, "report")
	for _, want := range []string{"Experiment completed: true", "http/latency-mean (msec) <= 50 | true", "http/error-count <= 0", "http/request-count", "100.00"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}
	r = iter8(t, dir, "assert", "-c", "completed", "-c", "nofailure", "-c", "slos")
	if r.code != 0 {
		t.Errorf("assert exited %d: %s", r.code, r.stderr)
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Errorf("the report is coloured on a pipe:\n%q", r.stdout)
	}
	r = iter8(t, dir, "report", "-o", "json")
	var rep struct {
		SchemaVersion string `json:"schemaVersion"`
		Status        struct {
			Completed      bool `json:"completed"`
			CompletedTasks int  `json:"completedTasks"`
			SLOsSatisfied  bool `json:"slosSatisfied"`
		} `json:"status"`
		SLOs []struct {
			Metric  string `json:"metric"`
			Results []struct {
				Value   *float64 `json:"value"`
				Outcome string   `json:"outcome"`
			} `json:"results"`
		} `json:"slos"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("json report: exit %d, %v:\n%s", r.code, err, r.stdout)
	}
	if rep.SchemaVersion != "iter8.report/v1" || !rep.Status.Completed || rep.Status.CompletedTasks != 2 || !rep.Status.SLOsSatisfied ||
		len(rep.SLOs) != 2 {
		t.Errorf("json report: %+v", rep)
	}
	for _, s := range rep.SLOs {
		if len(s.Results) != 1 || s.Results[0].Value == nil || s.Results[0].Outcome != "passed" {
			t.Errorf("json report: SLO %s: %+v", s.Metric, s.Results)
		}
	}
	// the raw experiment, as stored
	r = iter8(t, dir, "report", "-o", "yaml")
	stored, err := os.ReadFile(filepath.Join(dir, "experiment.yaml"))
	if err != nil || r.code != 0 || r.stdout != string(stored) {
		t.Errorf("yaml report (exit %d) differs from experiment.yaml: %v\n%s", r.code, err, r.stdout)
	}
	for _, f := range []struct{ format, file, want string }{
		{"html", "report.html", "<!DOCTYPE html>"},
		{"junit", "slos.xml", `<testsuite name="iter8 SLOs" tests="2" failures="0" errors="0" skipped="0"`},
		{"markdown", "report.md", "## ✅ iter8: All SLOs satisfied"},
	} {
		out := filepath.Join(dir, f.file)
		r = iter8(t, dir, "report", "-o", f.format, "--output-file", out)
		b, err := os.ReadFile(out)
		if r.code != 0 || err != nil || !strings.Contains(string(b), f.want) || r.stdout != "" {
			t.Errorf("report -o %s --output-file: exit %d, %v, stdout %q, file lacks %q:\n%.300s", f.format, r.code, err, r.stdout, f.want, b)
		}
	}
}

func TestAssertNamesFailingSLO(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := startTarget(t)
	dir := t.TempDir()
	r := iter8(t, dir, "launch", "--set", "tasks={http,assess}", "--set", "http.url="+srv.URL(),
		"--set", "http.qps=0", "--set", "http.numRequests=20",
		"--set", "assess.SLOs.upper.http/latency-max=0", "--set", "assess.SLOs.upper.http/error-count=0",
		"--set", `assess.SLOs.upper.http/latency-p99\.5=0.000001`, "--set", "assess.SLOs.lower.other/metric=1")
	if r.code != 0 {
		t.Fatalf("launch exited %d: %s", r.code, r.stderr)
	}
	// comma-separated conditions; a long timeout must not be waited out once the experiment completed
	r = iter8(t, dir, "assert", "-c", "completed,nofailure,slos", "--timeout", "10m")
	if r.code != 1 {
		t.Fatalf("assert exited %d, want 1: %s", r.code, r.stderr)
	}
	for _, want := range []string{
		"SLO http/latency-max <= 0 is not satisfied by version 0: value",
		"is above the limit 0",
		"SLO http/latency-p99.5 <= 0.000001",
		"SLO 1 <= other/metric is not satisfied by version 0: no data",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("assert output lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "http/error-count <= 0 is not") {
		t.Errorf("a satisfied SLO was reported as failing:\n%s", r.stderr)
	}
	r = iter8(t, dir, "report")
	if !strings.Contains(r.stdout, "false (no data)") || !strings.Contains(r.stdout, "http/latency-max (msec) <= 0") {
		t.Errorf("report:\n%s", r.stdout)
	}
	r = iter8(t, dir, "assert", "-c", "completed", "-c", "nofailure")
	if r.code != 0 {
		t.Errorf("assert completed,nofailure exited %d: %s", r.code, r.stderr)
	}
}

func TestBadInputExits2(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), []byte("this: [is not\n  valid"), 0o644); err != nil {
		t.Fatal(err)
	}
	reportDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(reportDir, "experiment.yaml"), []byte("spec: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	unknownTask := t.TempDir()
	if err := os.WriteFile(filepath.Join(unknownTask, "experiment.yaml"), []byte("spec:\n- task: htp\n  with: {url: http://127.0.0.1:1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := []string{"launch", "--dry", "--set", "tasks={http,assess}", "--set", "http.url=http://127.0.0.1:1/"}
	tests := []struct {
		name string
		dir  string
		args []string
		want []string
	}{
		{"unknown task in chart", "", []string{"launch", "--set", "tasks={htp}"}, []string{`task name must be one of assess, custommetrics, github, grpc, http, ready, run, slack, webhook; got "htp"`}},
		{"unknown task in experiment", unknownTask, []string{"run"}, []string{`task 1: unknown task "htp": expected one of assess, custommetrics, grpc, http, notify, ready, run`}},
		{"unknown field", "", append(base, "--set", "http.qsp=3"), []string{`task 1 (http): unknown field "qsp": did you mean "qps"? (expected one of`}},
		{"malformed duration", "", append(base, "--set", "http.duration=10x"), []string{`task 1 (http): field "duration": invalid value "10x": expected a duration such as 30s`}},
		{"missing url", "", []string{"launch", "--set", "tasks={http}"}, []string{"http.url is required"}},
		{"unreadable values file", "", []string{"launch", "-f", "no-such-values.yaml"}, []string{"no-such-values.yaml"}},
		{"experiment not YAML", dir, []string{"run"}, []string{"experiment.yaml", "not valid YAML"}},
		{"negative qps", "", append(base, "--set", "http.qps=-5"), []string{`field "qps": invalid value -5: expected a number of requests per second >= 0`}},
		{"bad SLO metric", "", append(base, "--set", "assess.SLOs.upper.latency=5"), []string{`task 2 (assess): field "SLOs.upper[0].metric": invalid value "latency"`}},
		{"unknown flag", "", []string{"launch", "--sett", "x=1"}, []string{"unknown flag: --sett"}},
		{"unknown command", "", []string{"lauch"}, []string{`unknown command "lauch"`, "did you mean launch"}},
		{"unknown condition", dir, []string{"assert", "-c", "winner"}, []string{`unknown assert condition "winner": expected completed, nofailure or slos`}},
		{"no condition", dir, []string{"assert"}, []string{"no assert condition given"}},
		{"unknown report format", dir, []string{"report", "-o", "pdf"}, []string{`unknown report format "pdf": expected one of html, json, junit, markdown, text, yaml`}},
		{"unwritable report file", reportDir, []string{"report", "-o", "html", "--output-file", "no/such/dir/report.html"}, []string{"--output-file no/such/dir/report.html: cannot write: no such file or directory"}},
		{"bad log level", "", []string{"version", "-l", "loud"}, []string{`--loglevel "loud"`}},
		{"no experiment", t.TempDir(), []string{"report"}, []string{"the file does not exist"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := tt.dir
			if d == "" {
				d = t.TempDir()
			}
			r := iter8(t, d, tt.args...)
			if r.code != 2 {
				t.Errorf("exit code %d, want 2; stderr:\n%s", r.code, r.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
		})
	}
}

func TestSIGINTKeepsRecordedWork(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := startTarget(t)
	dir := t.TempDir()
	doc := "spec:\n- run: echo first\n- task: http\n  with:\n    url: " + srv.URL() + "/slow\n    duration: 5m\n    qps: 50\n- task: assess\n  with: {SLOs: {upper: [{metric: http/error-count, limit: 0}]}}\n"
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run")
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	var log strings.Builder
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "task 2: http: started") {
			break
		}
	}
	// let some requests happen
	if err := srv.WaitRequests(ctx, 20); err != nil {
		t.Fatalf("no load reached the server: %v", err)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want code 1; log:\n%s", err, log.String())
	}
	exp := loadExperiment(t, dir)
	res := exp.Result
	if !res.Failure || res.NumCompletedTasks != 1 || !strings.Contains(res.FailureReason, "task 2 (http) was interrupted: received signal interrupt") {
		t.Errorf("result: failure %v completed %d reason %q", res.Failure, res.NumCompletedTasks, res.FailureReason)
	}
	if res.Tasks[0].State != experiment.Completed || res.Tasks[1].State != experiment.Failed || res.Tasks[2].State != experiment.Pending {
		t.Errorf("task states %+v", res.Tasks)
	}
	if v, ok := res.Insights.Value("http/request-count", 0); !ok || v < 15 { // 20 reached the server, some cut short
		t.Errorf("the interrupted load's measurements were not kept: %v %v", v, ok)
	}
}

func TestAssertWaitsForCompletion(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dir := t.TempDir()
	running := "spec:\n- run: echo a\n- run: echo b\nresult:\n  startTime: 2026-11-27T10:00:00Z\n  numLoops: 1\n  numCompletedTasks: 1\n  failure: false\n  iter8Version: v0.14\n"
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), []byte(running), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "assert", "-c", "completed,nofailure", "--timeout", "5m", "--interval", "50ms")
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "waiting for the experiment") {
			break
		}
	}
	done := strings.Replace(running, "numCompletedTasks: 1", "numCompletedTasks: 2", 1)
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), []byte(done), 0o644); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("assert did not succeed once the experiment completed: %v", err)
	}
}

func TestHelpAndVersion(t *testing.T) {
	needBinary(t)
	t.Parallel()
	for _, c := range []string{"launch", "gen", "run", "report", "assert", "version", "demo"} {
		r := iter8(t, t.TempDir(), c, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "iter8 "+c) {
			t.Errorf("iter8 %s --help has no example:\n%s", c, r.stdout)
		}
	}
	r := iter8(t, t.TempDir(), "version", "--short")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "v0.") {
		t.Errorf("version --short: %q", r.stdout)
	}
	r = iter8(t, t.TempDir(), "version")
	if !strings.Contains(r.stdout, "version.BuildInfo{Version:") {
		t.Errorf("version: %q", r.stdout)
	}
	r = iter8(t, t.TempDir(), "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "__start_iter8") {
		t.Errorf("completion bash: %d", r.code)
	}
}

func TestGenWritesValidatedExperiment(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dir := t.TempDir()
	r := iter8(t, dir, "gen", "--set", "tasks={http,assess}", "--set", "http.url=http://127.0.0.1:9/x", "--set", "http.percentiles={97.5}", "--set", "assess.SLOs.upper.http/error-count=0", "--runDir", "out")
	if r.code != 0 {
		t.Fatalf("gen: %d %s", r.code, r.stderr)
	}
	exp := loadExperiment(t, filepath.Join(dir, "out"))
	w := exp.Spec[0].With
	if w["qps"] != 8.0 || w["connections"] != 4.0 || exp.Result != nil {
		t.Errorf("gen should fill in defaults and not run: %v", w)
	}
	if p, ok := w["percentiles"].([]any); !ok || p[4] != 97.5 {
		t.Errorf("percentiles given with --set must be numbers: %#v", w["percentiles"])
	}
}

// On a terminal the text report is coloured and fitted to its width: run
// under a real pseudo-terminal (util-linux script) 64 columns wide.
func TestReportOnATerminal(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "report", "testdata", "two-versions.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("util-linux script is needed for a pseudo-terminal: %v", err)
	}
	cmd := exec.CommandContext(ctx, script, "-qec", "stty cols 64 rows 50; exec "+bin+" report", "/dev/null")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	s := string(out)
	if !regexp.MustCompile("\x1b\\[32mtrue \\([0-9.]+\\)\x1b\\[0m").MatchString(s) || !regexp.MustCompile("\x1b\\[31mfalse \\([0-9.]+\\)\x1b\\[0m").MatchString(s) {
		t.Errorf("no colours on a terminal:\n%q", s)
	}
	plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAllString(s, "")
	for _, line := range strings.Split(strings.ReplaceAll(plain, "\r", ""), "\n") {
		if len([]rune(line)) > 64 && strings.Contains(line, " | ") {
			t.Errorf("table line wider than the terminal (64): %q", line)
		}
	}
}

// The original's gRPC tutorial, against a local server: through reflection,
// and with the proto and data fetched from URLs by the task itself.
func TestLaunchGRPC(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv, err := demo.StartGRPC(demo.GRPCConfig{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	protoDir := t.TempDir()
	if _, err := demo.WriteDemoProtos(protoDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(protoDir, "data.json"), []byte(`{"name": "from a URL"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	files := httptest.NewServer(http.FileServer(http.Dir(protoDir)))
	t.Cleanup(files.Close)

	dir := t.TempDir()
	r := iter8(t, dir, "launch", "--set", "tasks={grpc,assess}", "--set", "grpc.host="+srv.Addr(),
		"--set", "grpc.call=helloworld.Greeter.SayHello", "--set", "grpc.total=300", "--set", "grpc.data.name=iter8",
		"--set", "assess.SLOs.upper.grpc/error-rate=0", "--set", "assess.SLOs.upper.grpc/latency/mean=200",
		"--set", `assess.SLOs.upper.grpc/latency/p97\.5=800`)
	if r.code != 0 {
		t.Fatalf("launch exited %d: %s", r.code, r.stderr)
	}
	if srv.Calls("SayHello") != 300 {
		t.Errorf("server saw %d calls", srv.Calls("SayHello"))
	}
	r = iter8(t, dir, "assert", "-c", "completed", "-c", "nofailure", "-c", "slos")
	if r.code != 0 {
		t.Errorf("assert exited %d: %s", r.code, r.stderr)
	}
	r = iter8(t, dir, "report")
	for _, want := range []string{"grpc/latency/p97.5 (msec) <= 800 | true", "grpc/request-count         | 300.00"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, r.stdout)
		}
	}

	dir = t.TempDir()
	r = iter8(t, dir, "launch", "--set", "tasks={grpc}", "--set", "grpc.host="+srv.Addr(),
		"--set", "grpc.call=helloworld.Greeter.SayHello", "--set", "grpc.total=10",
		"--set", "grpc.protoURL="+files.URL+"/helloworld/helloworld.proto", "--set", "grpc.dataURL="+files.URL+"/data.json")
	if r.code != 0 {
		t.Fatalf("launch with protoURL exited %d: %s", r.code, r.stderr)
	}
	if got := srv.LastRequest("SayHello"); !strings.Contains(got, "from a URL") {
		t.Errorf("server received %s", got)
	}
}

// A local multi-loop experiment against the demo service: five loops a
// second apart, each re-assessing, with the history in the result. Each
// loop is 10 requests in closed loop (qps 0), which a busy machine cannot
// make an invalid run, judged on latency limits no scheduling delay
// reaches: the verdicts do not depend on the machine's load.
func TestLocalLoops(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dir := t.TempDir()
	r := iter8(t, dir, "demo", "--runDir", ".", "--latency", "1ms", "--error-rate", "0",
		"--set", "http.numRequests=10", "--set", "http.qps=0",
		"--set", "assess.SLOs.upper.http/latency-mean=60000", "--set", "assess.SLOs.upper.http/latency-p99=60000",
		"--loops", "5", "--interval", "1s")
	if r.code != 0 {
		t.Fatalf("demo --loops exited %d: %s", r.code, r.stderr)
	}
	exp := loadExperiment(t, dir)
	res := exp.Result
	if res.NumLoops != 5 || !exp.Completed() || len(res.History) != 5 {
		t.Fatalf("loops %d completed %v history %d", res.NumLoops, exp.Completed(), len(res.History))
	}
	for i, h := range res.History {
		if h.Loop != i+1 || h.Values[0]["http/request-count"] != 10 || len(h.SLOs) != 3 {
			t.Errorf("history entry %d: %+v", i, h)
		}
		if i > 0 && h.StartTime.Sub(res.History[i-1].StartTime) < 990*time.Millisecond {
			t.Errorf("loop %d started %v after the previous one, want the 1s interval", h.Loop, h.StartTime.Sub(res.History[i-1].StartTime))
		}
	}
	r = iter8(t, dir, "report", "-o", "json")
	if !strings.Contains(r.stdout, `"loops": [`) || strings.Count(r.stdout, `"loop":`) != 5 {
		t.Errorf("report lacks the per-loop trend data:\n%s", r.stdout)
	}
	r = iter8(t, dir, "report")
	if !strings.Contains(r.stdout, "Number of completed loops: 5") || !strings.Contains(r.stdout, "SLO outcomes over loops") || !strings.Contains(r.stdout, "| +++++") {
		t.Errorf("text report:\n%s", r.stdout)
	}
	r = iter8(t, dir, "report", "-o", "html")
	if !strings.Contains(r.stdout, `<section id="trends"><h2>SLOs over loops</h2>`) || !strings.Contains(r.stdout, "<svg") {
		t.Error("the HTML report has no trend charts")
	}
}
