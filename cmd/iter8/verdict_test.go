package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lineWith returns the first line of s containing want, or "".
func lineWith(s, want string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, want) {
			return l
		}
	}
	return ""
}

// assertExit runs iter8 and checks its exit code and that one line of its
// stderr holds every wanted phrase: the one-line reason a user sees.
func assertExit(t *testing.T, dir string, code int, wants []string, args ...string) result {
	t.Helper()
	r := iter8(t, dir, args...)
	if r.code != code {
		t.Errorf("iter8 %s: exit code %d, want %d; stderr:\n%s", strings.Join(args, " "), r.code, code, r.stderr)
	}
	if len(wants) > 0 {
		l := lineWith(r.stderr, wants[0])
		for _, w := range wants {
			if !strings.Contains(l, w) {
				t.Errorf("iter8 %s: no stderr line holds %q; stderr:\n%s", strings.Join(args, " "), wants, r.stderr)
				break
			}
		}
	}
	return r
}

// -c slos holds only when every declared SLO was judged in the latest loop:
// not with no SLO declared, not when assess was skipped by its if:.
func TestAssertSLOsNeedAJudgement(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := startTarget(t)
	url := srv.URL() + "/get"

	noSLO := t.TempDir()
	assertExit(t, noSLO, 0, nil, "launch", "--set", "tasks={http}", "--set", "http.url="+url, "--set", "http.numRequests=8", "--set", "http.qps=0")
	assertExit(t, noSLO, 1, []string{"condition does not hold: slos: the experiment declares no SLO"}, "assert", "-c", "slos")

	skipped := t.TempDir()
	writeExperiment(t, skipped, `spec:
- task: http
  with: {url: `+url+`, numRequests: 8, qps: 0}
- if: Result.NumLoops > 1
  task: assess
  with: {SLOs: {upper: [{metric: http/error-count, limit: 0}]}}
`)
	assertExit(t, skipped, 0, nil, "run")
	assertExit(t, skipped, 1, []string{"slos: SLO http/error-count <= 0 is not satisfied by version 0: not judged (skipped: task 2 (assess) did not run in loop 1"}, "assert", "-c", "slos")
	r := iter8(t, skipped, "report")
	if !strings.Contains(r.stdout, "false (not judged)") {
		t.Errorf("the report does not say the SLO was not judged:\n%s", r.stdout)
	}
}

// A misspelt values key, at any level, is exit 2 with a did-you-mean, and
// so is an assess task without SLOs: neither is silently ignored.
func TestValuesAreValidated(t *testing.T) {
	needBinary(t)
	t.Parallel()
	base := []string{"--set", "tasks={http,assess}", "--set", "http.url=http://127.0.0.1:1/"}
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{append([]string{"launch", "--dry", "--set", "asess.SLOs.upper.http/latency-mean=50"}, base...), []string{`unknown field "asess": did you mean "assess"?`}},
		{append([]string{"gen", "--set", "assess.SLOs.uper.http/latency-mean=50"}, base...), []string{`unknown field "assess.SLOs.uper": did you mean "assess.SLOs.upper"?`}},
		{append([]string{"k", "launch", "--dry", "--set", "assess.SLOs.upper.http/error-count=0", "--set", "runer=job"}, base...), []string{`unknown field "runer": did you mean "runner"?`}},
		{append([]string{"launch", "--dry"}, base...), []string{`task 2 (assess): field "SLOs" is missing`, "an assess task without SLOs judges nothing"}},
	} {
		assertExit(t, t.TempDir(), 2, tt.want, tt.args...)
	}
}

// A loop that fails records its SLOs as not judged: a window over it does
// not pass, and the report does not count it as passed (loops 1 and 3
// passed on their own values, loop 2 was not judged: 2 of 3). The load is
// closed loop (qps 0), which a busy machine cannot make an invalid run.
func TestFailedLoopIsNotPassed(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := startTarget(t)
	dir := t.TempDir()
	writeExperiment(t, dir, `spec:
- task: http
  with: {url: `+srv.URL()+`/get, numRequests: 8, qps: 0}
- if: Result.NumLoops == 2
  run: exit 7
- task: assess
  with:
    window: 2
    SLOs: {upper: [{metric: http/error-count, limit: 0}]}
`)
	assertExit(t, dir, 1, nil, "run", "--loops", "3")
	assertExit(t, dir, 1, []string{"slos: SLO http/error-count <= 0 is not satisfied by version 0", "not judged in loop 2 (no data)", "in the window of 2 loops"}, "assert", "-c", "slos")
	r := iter8(t, dir, "report", "-o", "markdown")
	if !strings.Contains(r.stdout, "`http/error-count` passed in 2 of 3") {
		t.Errorf("the report does not count the failed loop as not passed:\n%s", r.stdout)
	}
}

// Two load tasks writing the same metrics in one loop are refused, naming
// both and saying how to keep them apart; a warmup task does not count, and
// a task given its own provider name keeps its metrics apart, in values and
// in experiment files, and SLOs judge them. The loads are closed loop (qps
// 0), which a busy machine cannot make an invalid run.
func TestLoadTasksMustNotOverwriteEachOther(t *testing.T) {
	needBinary(t)
	t.Parallel()
	base := []string{"launch", "--dry", "--set", "http.url=http://127.0.0.1:1/", "--set", "assess.SLOs.upper.http/error-count=0"}
	assertExit(t, t.TempDir(), 2, []string{"task 1 (http) and task 3 (http) both write the metrics http/… in one loop", "give one of them its own metric names with provider:"}, append(base, "--set", "tasks={http,assess,http}")...)
	assertExit(t, t.TempDir(), 0, nil, append(base, "--set", "tasks={http,assess}", "--set", "http.warmupNumRequests=5")...)

	srv := startTarget(t)
	values := t.TempDir()
	assertExit(t, values, 0, nil, "launch", "--set", "tasks={http,assess}", "--set", "http.url="+srv.URL()+"/get", "--set", "http.numRequests=8", "--set", "http.qps=0",
		"--set", "http.provider=canary", "--set", "http.warmupNumRequests=2", "--set", "assess.SLOs.upper.canary/error-count=0")
	assertExit(t, values, 0, nil, "assert", "-c", "slos")

	file := t.TempDir()
	writeExperiment(t, file, `spec:
- task: http
  with: {url: `+srv.URL()+`/get, numRequests: 8, qps: 0}
- task: http
  with: {url: `+srv.URL()+`/canary, numRequests: 6, qps: 0, provider: canary}
- task: assess
  with:
    SLOs:
      upper:
      - {metric: http/error-count, limit: 0}
      - {metric: canary/error-count, limit: 0}
      - {metric: canary/latency-p99, limit: 60000}
      lower:
      - {metric: canary/request-count, limit: 6}
      - {metric: http/request-count, limit: 8}
`)
	assertExit(t, file, 0, nil, "run")
	assertExit(t, file, 0, nil, "assert", "-c", "slos")
	r := iter8(t, file, "report")
	for _, want := range []string{"canary/request-count", "canary/latency-p99", "http/request-count"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the report does not show %s:\n%s", want, r.stdout)
		}
	}
}

// Numbers are never changed silently: null, 1e400, NaN and infinities are
// exit 2 naming the field; documented decimals work.
func TestNumbersAreNotChangedSilently(t *testing.T) {
	needBinary(t)
	t.Parallel()
	base := []string{"launch", "--dry", "--set", "tasks={http,assess}", "--set", "http.url=http://127.0.0.1:1/", "--set", "assess.SLOs.upper.http/latency-mean=50"}
	for _, tt := range []struct {
		set  string
		code int
		want []string
	}{
		{"assess.SLOs.upper.http/error-count=null", 2, []string{`task 2 (assess): field "SLOs.upper[0].limit": invalid value null`}},
		{"http.qps=1e400", 2, []string{`task 1 (http): field "qps": invalid value "1e400": expected a number within the range of a 64-bit float`}},
		{"assess.SLOs.upper.http/error-count=1e400", 2, []string{`field "SLOs.upper[0].limit": invalid value "1e400"`}},
		{"http.rateTolerance=0.05", 0, nil},
		{"assess.SLOs.upper.http/error-rate=0.05", 0, nil},
	} {
		assertExit(t, t.TempDir(), tt.code, tt.want, append(base, "--set", tt.set)...)
	}
	dir := t.TempDir()
	writeExperiment(t, dir, "spec:\n- task: assess\n  with: {SLOs: {upper: [{metric: http/error-count, limit: .nan}]}}\n")
	assertExit(t, dir, 2, []string{`field "spec[0].with.SLOs.upper[0].limit": invalid value ".nan": expected a finite number`}, "run")
	writeExperiment(t, dir, "spec:\n- task: assess\n  with: {SLOs: {upper: [{metric: http/error-count, limit: -.inf}]}}\n")
	assertExit(t, dir, 2, []string{`invalid value "-.inf": expected a finite number`}, "run")
}

// holdLock holds the experiment's lock in dir, as a running iter8 does,
// until the test ends.
func holdLock(t *testing.T, dir string) {
	t.Helper()
	lf, err := os.OpenFile(filepath.Join(dir, "experiment.yaml.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lf.Close() })
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
}

// assert --timeout waits for the latest loop's judgement: a failure in an
// earlier loop does not end the wait while a later loop is running.
func TestAssertWaitsForTheJudgement(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dir := t.TempDir()
	const head = "spec:\n- task: assess\n  with: {SLOs: {upper: [{metric: app/x, limit: 1}]}}\nresult:\n  startTime: 2026-11-27T10:00:00Z\n  numLoops: 2\n  failure: true\n  failureReason: task 1 (assess) failed in loop 1\n  iter8Version: v0.14\n"
	running := head + "  numCompletedTasks: 0\n  tasks: [{name: assess, state: running}]\n  insights:\n    numVersions: 1\n    sloVerdicts:\n    - {metric: app/x, limit: 1, direction: upper, versions: [{outcome: notJudged, reason: not run yet}]}\n"
	writeExperiment(t, dir, running)
	holdLock(t, dir) // (as the run writing it does: see TestAssertSeesAKilledRun)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "assert", "-c", "slos", "--timeout", "5m", "--interval", "50ms")
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	waited := false
	for sc.Scan() {
		if strings.Contains(sc.Text(), "waiting for the experiment") {
			waited = true
			break
		}
	}
	judged := head + "  numCompletedTasks: 1\n  tasks: [{name: assess, state: completed}]\n  insights:\n    numVersions: 1\n    sloVerdicts:\n    - {metric: app/x, limit: 1, direction: upper, versions: [{value: 0.5, outcome: passed}]}\n"
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), []byte(judged), 0o644); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
	}
	if err := cmd.Wait(); err != nil || !waited {
		t.Fatalf("assert did not wait for the SLOs to be judged (waited %v): %v", waited, err)
	}
}
