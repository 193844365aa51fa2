package task

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"iter8.tools/iter8/internal/demo"
	"iter8.tools/iter8/internal/demo/demotest"
	"iter8.tools/iter8/internal/experiment"
)

// A release gate must not pass a broken release because the tool
// misbehaved, nor hang a pipeline. For each fault of the target: the run ends
// within its duration plus the request timeout, errors are counted by kind,
// no goroutine is left behind, memory stays bounded, and assert answers
// right (never "SLOs satisfied" when the requests failed). These subtests do
// not run in parallel, so that goroutine checks see only their own.
func TestHTTPFaults(t *testing.T) {
	skipInShortMode(t, "injects faults into seconds-long load runs (wall clock); runs without -short")
	srv, err := demo.StartHTTP(demo.HTTPConfig{BodySize: 4096}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	ca, err := demotest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	_ = ln.Close()
	_ = ca
	const duration, timeout = 2 * time.Second, 500 * time.Millisecond
	tests := []struct {
		name  string
		url   string
		extra string
		kinds []string // error kinds expected among the codes
		slos  bool     // whether the SLOs can hold
	}{
		{"connection refused", refused, "", []string{"connection-refused"}, false},
		{"reset before the response", srv.URL() + "/?fault=reset", "", []string{"connection-reset"}, false},
		{"reset mid-response", srv.URL() + "/?fault=reset-mid", "", []string{"connection-reset"}, false},
		{"stall before headers", srv.URL() + "/?delay=1h", "", []string{"timeout"}, false},
		{"stall mid-body", srv.URL() + "/?fault=stall-body", "", []string{"timeout"}, false},
		{"5xx storm", srv.URL() + "/?status=503", "", []string{"503"}, false},
		{"huge bodies", srv.URL() + "/?fault=huge&size=2000000", "    connections: 2\n", []string{"200"}, true},
		{"endless bodies", srv.URL() + "/?fault=endless", "", []string{"timeout"}, false},
		{"connections closed after each response", srv.URL() + "/?fault=close", "", []string{"200"}, true},
		{"HTTP/2 GOAWAY after each response", "" /* an h2c server, started in the subtest */, "    http2: true\n", []string{"200"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "HTTP/2 GOAWAY after each response" {
				h2, err := demo.StartHTTP(demo.HTTPConfig{H2C: true}, "")
				if err != nil {
					t.Fatal(err)
				}
				defer func() { _ = h2.Close() }()
				tt.url = h2.URL() + "/?fault=close"
			}
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			doc := "spec:\n- task: http\n  with:\n    url: \"" + tt.url + "\"\n    qps: 50\n    duration: " + duration.String() +
				"\n    timeout: " + timeout.String() + "\n    allowInitialErrors: true\n" + tt.extra +
				"- task: assess\n  with: {SLOs: {upper: [{metric: http/latency-p99, limit: 1000}, {metric: http/error-rate, limit: 0}]}}\n"
			got, took := runFaultExperiment(t, doc, duration+timeout)
			ls := got.Result.Insights.Load["http"]
			for _, k := range tt.kinds {
				if ls.Codes[k] == 0 {
					t.Errorf("no %s counted; codes %v", k, ls.Codes)
				}
			}
			if ls.Requests < 10 {
				t.Errorf("only %d requests: the run stopped early", ls.Requests)
			}
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 64<<20 {
				t.Errorf("heap grew by %d MB", grew>>20)
			}
			failures := got.Check([]experiment.Assertion{experiment.AssertNoFailure, experiment.AssertSLOs})
			if tt.slos != (len(failures) == 0) {
				t.Errorf("assert -c nofailure -c slos: %v (SLOs can hold: %v)", failures, tt.slos)
			}
			t.Logf("%d requests in %v, codes %v", ls.Requests, took.Round(time.Millisecond), ls.Codes)
		})
	}
}

// gRPC faults: every status code is counted by name and never stops the run,
// broken streams are failures of their calls, unreachable or stalled servers
// end within the duration plus the call timeout, and nothing leaks.
func TestGRPCFaults(t *testing.T) {
	skipInShortMode(t, "injects faults into seconds-long load runs (wall clock); runs without -short")
	srv, err := demo.StartGRPC(demo.GRPCConfig{}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	const duration, timeout = 2 * time.Second, 500 * time.Millisecond
	tests := []struct {
		name string
		with string
		want map[string]bool // codes that must be counted
	}{
		{"every status code", `call: iter8.demo.v1.Demo.Unary
    endpoints:` + codeEndpoints(), map[string]bool{"Canceled": true, "Unknown": true, "InvalidArgument": true, "NotFound": true, "AlreadyExists": true, "PermissionDenied": true, "ResourceExhausted": true, "FailedPrecondition": true, "Aborted": true, "OutOfRange": true, "Unimplemented": true, "Internal": true, "Unavailable": true, "DataLoss": true, "Unauthenticated": true}},
		{"server stream broken half-way", `call: iter8.demo.v1.Demo.ServerStream
    data: {count: 6, options: {break_stream: true}}`, map[string]bool{"Aborted": true}},
		{"bidi stream broken", `call: iter8.demo.v1.Demo.Bidi
    data: [{name: a, options: {break_stream: true, code: 13}}, {name: b}, {name: c}]`, map[string]bool{"Internal": true}},
		{"stalled calls", `call: iter8.demo.v1.Demo.Unary
    data: {options: {delay_ms: 3600000}}`, map[string]bool{"DeadlineExceeded": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			doc := "spec:\n- task: grpc\n  with:\n    host: " + srv.Addr() + "\n    rps: 100\n    concurrency: 8\n    duration: " + duration.String() +
				"\n    timeout: " + timeout.String() + "\n    " + tt.with + "\n" +
				"- task: assess\n  with: {SLOs: {upper: [{metric: grpc/error-rate, limit: 0}, {metric: grpc/latency/p99, limit: 1000}]}}\n"
			got, took := runFaultExperiment(t, doc, duration+timeout)
			ls := got.Result.Insights.Load["grpc"]
			for code := range tt.want {
				if ls.Codes[code] == 0 {
					t.Errorf("no %s counted; codes %v", code, ls.Codes)
				}
			}
			if ls.Requests < 10 {
				t.Errorf("only %d calls", ls.Requests)
			}
			if f := got.Check([]experiment.Assertion{experiment.AssertNoFailure, experiment.AssertSLOs}); len(f) == 0 {
				t.Error("assert reports satisfied SLOs for failed calls")
			}
			t.Logf("%d calls in %v, codes %v", ls.Requests, took.Round(time.Millisecond), ls.Codes)
		})
	}
}

// codeEndpoints is one endpoint per non-OK status code, each asking the
// demo service for that code.
func codeEndpoints() string {
	var b strings.Builder
	for c := 1; c <= 16; c++ {
		if c == 4 { // DeadlineExceeded comes from the client's timeout, below
			continue
		}
		fmt.Fprintf(&b, "\n      c%d: {data: {options: {code: %d}}, weight: 1}", c, c)
	}
	return b.String()
}

// runFaultExperiment runs an experiment document; the run must succeed (the
// faults are the target's, not the experiment's) within bound plus a little
// scheduling slack.
func runFaultExperiment(t *testing.T, doc string, bound time.Duration) (*experiment.Experiment, time.Duration) {
	t.Helper()
	r := runner(t, doc)
	start := time.Now()
	got, err := r.Run(context.Background())
	took := time.Since(start)
	if err != nil {
		t.Fatalf("the experiment failed: %v", err)
	}
	if took > bound+2*time.Second {
		t.Errorf("the run took %v, more than its duration plus the request timeout", took)
	}
	return got, took
}
