package task

import (
	"math"
	"slices"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/demo"
)

// qpsSchedule steps the http rate as ghz's load schedule steps a grpc
// rate: 100, 200, then 300 requests/s every 200 ms sends 20+40+60 = 120
// requests in 600 ms (a mean of 200/s), counted by the server.
func TestHTTPQPSSchedule(t *testing.T) {
	t.Parallel()
	srv := startHTTP(t, demo.HTTPConfig{})
	exp, err := runTemp(t, newHTTP, map[string]any{
		"url": srv.URL() + "/get", "numRequests": 120.0,
		"qpsSchedule": map[string]any{"start": 100.0, "step": 100.0, "stepDuration": "200ms", "end": "300"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Count("GET", "/get"); got != 120 { // exactly numRequests: no probe of its own
		t.Errorf("server counted %d requests, want 120", got)
	}
	ls := exp.Result.Insights.Load["http"]
	if value(t, exp, "http/request-count") != 120 || ls.Mode != "open" || math.Abs(ls.IntendedRate-200) > 0.01 {
		t.Errorf("load %+v: want 120 requests in open loop at a mean intended rate of 200/s", ls)
	}
}

func TestScheduleInputErrors(t *testing.T) {
	t.Parallel()
	wantInputErrors(t, newHTTP, []inputCase{
		{"schedule without start", map[string]any{"url": "http://x", "qpsSchedule": map[string]any{"step": 1.0}}, `field "qpsSchedule.start" is missing`},
		{"schedule without step", map[string]any{"url": "http://x", "qpsSchedule": map[string]any{"start": 1.0}}, `field "qpsSchedule.step" is missing`},
		{"schedule start too low", map[string]any{"url": "http://x", "qpsSchedule": map[string]any{"start": 0.0001, "step": 1.0}}, `field "qpsSchedule.start": invalid value 0.0001: expected requests per second from 0.001 to 1e+06`},
		{"schedule unknown key", map[string]any{"url": "http://x", "qpsSchedule": map[string]any{"start": 1.0, "step": 1.0, "stop": 3.0}}, `qpsSchedule`},
		{"schedule end behind", map[string]any{"url": "http://x", "qpsSchedule": map[string]any{"start": 10.0, "step": 1.0, "end": 5.0}}, `field "qpsSchedule.end": invalid value 5`},
		{"schedule to zero", map[string]any{"url": "http://x", "numRequests": 100.0, "qpsSchedule": map[string]any{"start": 4.0, "step": -2.0}}, `its rate falls to 0 after 6`},
		{"schedule to zero, count wins", map[string]any{"url": "http://x", "numRequests": 100.0, "duration": "1h", "qpsSchedule": map[string]any{"start": 4.0, "step": -2.0}}, `its rate falls to 0 after 6`},
		{"schedule too fast", map[string]any{"url": "http://x", "duration": "168h", "qpsSchedule": map[string]any{"start": 1000.0, "step": 1000.0}}, `at most 1e+06 per second`},
		{"schedule per endpoint", map[string]any{"endpoints": map[string]any{"a": map[string]any{"url": "http://x", "qpsSchedule": map[string]any{"start": 1.0, "step": 1.0}}}}, `endpoints.a.qpsSchedule`},
	})
}

// ghz's output options are accepted with a warning each; the applied
// options are not warned about, and the run-level ones are refused on an
// endpoint.
func TestGhzWarnings(t *testing.T) {
	t.Parallel()
	tk, err := newGRPC(map[string]any{"host": "127.0.0.1:1", "call": "a.B.C", "format": "json", "debug": "d.json", "cpus": 2.0,
		"async": true, "keepalive": "30s", "count-errors": false, "lb-strategy": "round_robin", "name": "n", "tags": map[string]any{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	w := tk.(*grpcTask).Warnings()
	var keys []string
	for _, s := range w {
		_, rest, _ := strings.Cut(s, `ghz option "`)
		key, _, _ := strings.Cut(rest, `"`)
		keys = append(keys, key)
	}
	if want := []string{"format", "debug", "cpus", "async"}; !slices.Equal(keys, want) {
		t.Errorf("warnings %q name %v, want %v", w, keys, want)
	}
	wantInputErrors(t, newGRPC, []inputCase{
		{"schedule per endpoint", map[string]any{"host": "h:1", "endpoints": map[string]any{"a": map[string]any{"call": "a.B.C", "load-schedule": "step"}}}, `endpoints.a.load-schedule`},
	})
}

// An experiment file the original's chart wrote with ghz's concurrency
// schedule and options runs with their meaning: 40 calls from the schedule's
// 2 workers (its first step lasts an hour; 6 connections are opened), and
// warnings for the options that do not apply (debug, cpus) in the log and on
// the task, with no "unknown input" warning.
func TestOriginalGhzConcurrencySchedule(t *testing.T) {
	t.Parallel()
	skipInShortMode(t, "sends calls")
	srv, err := demo.StartGRPC(demo.GRPCConfig{}, "")
	srv = started(t, srv, err)
	exp, log, err := runOriginal(t, "hub-0.13-grpc-ghz-config.yaml", t.TempDir(), map[string]string{"$HOST": srv.Addr()}, false)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log)
	}
	ls := exp.Result.Insights.Load["grpc"]
	if !exp.Completed() || exp.Result.Failure || srv.Calls("SayHello") != 40 || ls.Requests != 40 || ls.Mode != "closed" || ls.Connections != 2 {
		t.Errorf("completed %v failure %v, server saw %d calls, load %+v; want 40 calls over 2 active workers", exp.Completed(), exp.Result.Failure, srv.Calls("SayHello"), ls)
	}
	if ls.Name != "ramp" || ls.Tags["build"] != "42" {
		t.Errorf("name %q tags %v, want ramp and build=42", ls.Name, ls.Tags)
	}
	warnings := exp.Result.Tasks[0].Warnings
	if len(warnings) != 2 || !strings.Contains(warnings[0], `"debug"`) || !strings.Contains(warnings[1], `"cpus"`) {
		t.Errorf("task warnings %q, want debug and cpus not applied", warnings)
	}
	if !strings.Contains(log, `ghz option \"cpus\" accepted but not applied`) || strings.Contains(log, "unknown input") {
		t.Errorf("log:\n%s", log)
	}
}

// ghz's options that the engine applies, against a real server failing
// half the calls: count-errors false keeps only the answered OK calls in
// the latency (and in the service time), async false keeps the open loop
// at concurrency connections, keepalive and lb-strategy set up the
// connections that make the calls.
func TestGhzAppliedOptions(t *testing.T) {
	t.Parallel()
	srv, err := demo.StartGRPC(demo.GRPCConfig{ErrorRate: 0.5}, "")
	srv = started(t, srv, err)
	exp, err := runTemp(t, newGRPC, map[string]any{
		"host": srv.Addr(), "call": "helloworld.Greeter.SayHello", "total": 40.0, "rps": 400.0, "concurrency": 3.0,
		"count-errors": false, "async": false, "keepalive": "30s", "lb-strategy": "round_robin",
	})
	if err != nil {
		t.Fatal(err)
	}
	ls := exp.Result.Insights.Load["grpc"]
	h, ok := exp.Result.Insights.Histogram("grpc/latency", 0)
	if !ok || srv.Calls("SayHello") != 40 || ls.Requests != 40 || ls.Errors != 20 || h.Count() != 20 {
		t.Fatalf("server %d calls, load %+v, latency histogram %v; want 40 calls, 20 errors, 20 latencies", srv.Calls("SayHello"), ls, h)
	}
	if ls.Mode != "open" || ls.MaxConnections != 3 {
		t.Errorf("mode %s, max connections %d; want open loop kept at 3", ls.Mode, ls.MaxConnections)
	}
}
