package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"iter8.tools/iter8/internal/demo"
)

// Absurd load inputs are refused before anything runs, naming the field and
// the documented range (issue 13, item 8).
func TestAbsurdLoadInputsExit2(t *testing.T) {
	needBinary(t)
	t.Parallel()
	base := []string{"launch", "--dry", "--set", "tasks={http}", "--set", "http.url=http://127.0.0.1:1/"}
	tests := []struct{ set, want string }{
		{"http.qps=1e19", `field "qps": invalid value 10000000000000000000: expected 0 (as fast as responses return) or a rate from 0.001 to 1e+06 per second`},
		{"http.qps=1e-11", `field "qps": invalid value 1e-11: expected 0 (as fast as responses return) or a rate from 0.001 to 1e+06 per second`},
		{"http.connections=100000000", `field "connections": invalid value 100000000: expected a whole number from 1 to 10000`},
	}
	for _, tt := range tests {
		r := iter8(t, t.TempDir(), append(base, "--set", tt.set)...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%s: exit %d, want 2 with %q:\n%s", tt.set, r.code, tt.want, r.stderr)
		}
	}
}

// The original's default load (8 req/s over 4 connections) against a
// service that takes 700 ms: connections grow on demand, the run is valid,
// the SLOs are judged on the target's latency (issue 13, item 7).
func TestSlowServiceIsJudged(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv, err := demo.StartHTTP(demo.HTTPConfig{Latency: demo.Fixed(700 * time.Millisecond)}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	dir := t.TempDir()
	r := iter8(t, dir, "launch", "--set", "tasks={http,assess}", "--set", "http.url="+srv.URL(),
		"--set", "http.numRequests=16", "--set", "assess.SLOs.upper.http/error-count=0",
		"--set", "assess.SLOs.upper.http/latency-p50=1400", "--set", "assess.SLOs.upper.http/latency-p99=600")
	if r.code != 0 {
		t.Fatalf("launch exited %d: %s", r.code, r.stderr)
	}
	r = iter8(t, dir, "assert", "-c", "completed,nofailure,slos")
	if r.code != 1 {
		t.Fatalf("assert exited %d, want 1 (p99 above 600 ms): %s", r.code, r.stderr)
	}
	const judged = "SLO http/latency-p99 <= 600 is not satisfied by version 0: value "
	i := strings.Index(r.stderr, judged)
	if strings.Contains(r.stderr, "invalid") || strings.Contains(r.stderr, "error-count") || strings.Contains(r.stderr, "latency-p50") || i < 0 {
		t.Fatalf("assert should fail on the p99 alone, judged on its value:\n%s", r.stderr)
	}
	var p99 float64
	if _, err := fmt.Sscan(r.stderr[i+len(judged):], &p99); err != nil || p99 < 700 {
		t.Errorf("p99 %v (%v), want the service's 700 ms at least:\n%s", p99, err, r.stderr)
	}
	ls := loadExperiment(t, dir).Result.Insights.Load["http"]
	if ls.Saturated || ls.Connections <= 4 || ls.MaxConnections < ls.Connections {
		t.Errorf("load: saturated %v (%s), connections %d of %d: want growth past 4", ls.Saturated, ls.SaturationReason, ls.Connections, ls.MaxConnections)
	}
}

// A run of one request has no schedule to fall behind: a timer that woke a
// little late does not make its verdicts invalid (issue 13, item 7).
func TestOneRequestRunIsJudged(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv, err := demo.StartHTTP(demo.HTTPConfig{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	dir := t.TempDir()
	r := iter8(t, dir, "launch", "--set", "tasks={http,assess}", "--set", "http.url="+srv.URL(),
		"--set", "http.numRequests=1", "--set", "assess.SLOs.upper.http/error-count=0")
	if r.code != 0 {
		t.Fatalf("launch exited %d: %s", r.code, r.stderr)
	}
	if r = iter8(t, dir, "assert", "-c", "completed,nofailure,slos"); r.code != 0 {
		t.Fatalf("assert exited %d, want 0: %s", r.code, r.stderr)
	}
}

// A server that closes idle keep-alive connections (uvicorn and Node.js
// after 5 s) fails no request: one sent after the close goes again over a
// new connection, GET and POST alike, and the server sees each request
// once.
func TestIdleCloseIsNotAnError(t *testing.T) {
	needBinary(t)
	t.Parallel()
	for _, method := range []string{"GET", "POST"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			srv, err := demo.StartHTTP(demo.HTTPConfig{IdleTimeout: 50 * time.Millisecond}, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.Close() })
			dir := t.TempDir()
			args := []string{"launch", "--set", "tasks={http,assess}", "--set", "http.url=" + srv.URL(),
				"--set", "http.qps=5", "--set", "http.connections=1", "--set", "http.numRequests=6",
				"--set", "assess.SLOs.upper.http/error-count=0"}
			if method == "POST" {
				args = append(args, "--set", "http.payloadStr=hello")
			}
			if r := iter8(t, dir, args...); r.code != 0 {
				t.Fatalf("launch exited %d: %s", r.code, r.stderr)
			}
			if r := iter8(t, dir, "assert", "-c", "completed,nofailure,slos"); r.code != 0 {
				t.Errorf("assert exited %d, want 0: %s", r.code, r.stderr)
			}
			if n := srv.Count(method, "/"); n != 6 {
				t.Errorf("the server saw %d %s requests, want 6", n, method)
			}
		})
	}
}

// Requests that time out are latency at their timeout: 20% of requests take
// 1.5 s against a 1 s timeout, so p99 is at least 1 s, and the report says
// how many samples are lower bounds (issue 13, item 3).
func TestTimeoutsCountAsLatency(t *testing.T) {
	needBinary(t)
	t.Parallel()
	slow := func(n uint64) time.Duration {
		if n%5 == 4 {
			return 1500 * time.Millisecond
		}
		return 5 * time.Millisecond
	}
	srv, err := demo.StartHTTP(demo.HTTPConfig{Latency: slow}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	dir := t.TempDir()
	r := iter8(t, dir, "launch", "--set", "tasks={http,assess}", "--set", "http.url="+srv.URL(), "--set", "http.allowInitialErrors=true",
		"--set", "http.qps=0", "--set", "http.connections=10", "--set", "http.numRequests=20", "--set", "http.timeout=1s",
		"--set", "assess.SLOs.upper.http/latency-p99=100")
	if r.code != 0 {
		t.Fatalf("launch exited %d: %s", r.code, r.stderr)
	}
	r = iter8(t, dir, "assert", "-c", "slos")
	if r.code != 1 || !strings.Contains(r.stderr, "SLO http/latency-p99 <= 100 is not satisfied by version 0: value 1") {
		t.Fatalf("assert exited %d, want 1 with p99 of at least 1 s:\n%s", r.code, r.stderr)
	}
	r = iter8(t, dir, "report")
	if !strings.Contains(r.stdout, "requests timed out; they are in the latency at their timeout (lower bounds)") {
		t.Errorf("report does not say how many samples are lower bounds:\n%s", r.stdout)
	}
}

// A signal ends any run at once, however far away the next due time: here
// the slowest rate, whose second request is due in 1,000 s (issue 13,
// item 8).
func TestSignalEndsSlowestRun(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := startTarget(t)
	dir := t.TempDir()
	doc := "spec:\n- task: http\n  with:\n    url: " + srv.URL() + "\n    duration: 1h\n    qps: 0.001\n"
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// the first request, due at once (it is also the reachability check)
	if err := srv.WaitRequests(ctx, 1); err != nil {
		t.Fatalf("no load reached the server: %v", err)
	}
	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if took := time.Since(signalled); took > 10*time.Second {
		t.Errorf("the run ended %v after SIGTERM", took)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("exit %v, want code 1 (interrupted)", err)
	}
}

// Poisson arrivals are an option of the http (and grpc) task: it runs at
// the rate asked for, and a misspelt value, or Poisson arrivals without a
// rate, is exit 2 naming the field and the choices (issue 13, item 9).
func TestPoissonArrivals(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := startTarget(t)
	base := []string{"launch", "--set", "tasks={http}", "--set", "http.url=" + srv.URL()}
	for _, tt := range []struct{ set, want string }{
		{"http.arrivals=random", `field "arrivals": invalid value "random": expected "uniform" (evenly spaced, the default) or "poisson"`},
		{"http.qps=0", `field "arrivals": invalid value "poisson": expected "uniform" (evenly spaced, the default) or "poisson" with a fixed rate`},
	} {
		args := append(slices.Clone(base), "--dry", "--set", "http.arrivals=poisson", "--set", tt.set)
		r := iter8(t, t.TempDir(), args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%s: exit %d, want 2 with %q:\n%s", tt.set, r.code, tt.want, r.stderr)
		}
	}
	dir := t.TempDir()
	r := iter8(t, dir, append(base, "--set", "http.arrivals=poisson", "--set", "http.qps=400", "--set", "http.numRequests=200")...)
	if r.code != 0 {
		t.Fatalf("launch exited %d: %s", r.code, r.stderr)
	}
	exp := loadExperiment(t, dir)
	if got := exp.Spec[0].With["arrivals"]; got != "poisson" {
		t.Errorf("spec arrivals %v, want poisson", got)
	}
	if ls := exp.Result.Insights.Load["http"]; ls.Requests != 200 || ls.IntendedRate != 400 {
		t.Errorf("load: %d requests at %g req/s, want 200 at 400", ls.Requests, ls.IntendedRate)
	}
}
