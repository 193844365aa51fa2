package task

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"iter8.tools/iter8/internal/demo"
	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/load"
	"iter8.tools/iter8/internal/metrics"
)

// arrivals is an HTTP server that numbers the requests it receives and
// keeps, per path, how many came and the first and last of their numbers.
type arrivals struct {
	mu    sync.Mutex
	n     int
	paths map[string]*span
	url   string
}

type span struct{ count, first, last int }

func newArrivals(t *testing.T) *arrivals {
	t.Helper()
	a := &arrivals{paths: map[string]*span{}}
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.n++
		s := a.paths[r.URL.Path]
		if s == nil {
			s = &span{first: a.n}
			a.paths[r.URL.Path] = s
		}
		s.count++
		s.last = a.n
	}))
	t.Cleanup(srv.Close)
	a.url = srv.URL
	return a
}

func (a *arrivals) get(path string) span {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.paths[path]; s != nil {
		return *s
	}
	return span{}
}

// Endpoints without weights run in turn, in the order of their names, each
// with its own budget (its own numRequests, duration, qps or connections,
// else the task's), and its own metrics; http/... merges them exactly.
func TestHTTPEndpointsInTurn(t *testing.T) {
	t.Parallel()
	a := newArrivals(t)
	exp, err := runTemp(t, newHTTP, map[string]any{
		"numRequests": 20.0, "qps": 0.0, "connections": 2.0,
		"endpoints": map[string]any{
			"a": map[string]any{"url": a.url + "/a", "numRequests": 7.0},
			"b": map[string]any{"url": a.url + "/b", "qps": 400.0, "connections": 3.0},
			"c": map[string]any{"url": a.url + "/c", "payloadStr": "x"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sa, sb, sc := a.get("/a"), a.get("/b"), a.get("/c")
	if sa.count != 7 || sb.count != 20 || sc.count != 20 {
		t.Errorf("server counted a %d, b %d, c %d requests; want 7, 20, 20", sa.count, sb.count, sc.count)
	}
	if sa.last >= sb.first || sb.last >= sc.first {
		t.Errorf("endpoints overlapped: a %+v, b %+v, c %+v (want a, then b, then c)", sa, sb, sc)
	}
	for name, want := range map[string]float64{"http-a/request-count": 7, "http-b/request-count": 20, "http-c/request-count": 20, "http/request-count": 47, "http/error-count": 0} {
		if got := value(t, exp, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	h, ok := exp.Result.Insights.Histogram("http/latency", 0)
	if !ok || h.Count() != 47 {
		t.Errorf("http/latency holds %v samples, want the 47 of the three runs", h)
	}
	l := exp.Result.Insights.Load
	if l["http-a"].Mode != "closed" || l["http-b"].Mode != "open" || l["http-b"].IntendedRate != 400 || l["http"].Mode != "mixed" {
		t.Errorf("modes a %s, b %s at %v req/s, whole %s", l["http-a"].Mode, l["http-b"].Mode, l["http-b"].IntendedRate, l["http"].Mode)
	}
	if l["http-a"].Connections != 2 || l["http-b"].Connections < 3 {
		t.Errorf("connections a %d (want 2), b %d (want at least 3)", l["http-a"].Connections, l["http-b"].Connections)
	}
	if l["http"].Requests != 47 || l["http"].DurationSeconds < l["http-b"].DurationSeconds {
		t.Errorf("whole: %+v", l["http"])
	}
}

// An endpoint's count or duration replaces both of the task's; a weight on
// every endpoint makes one mix instead, under the task's budget.
func TestHTTPEndpointBudgets(t *testing.T) {
	t.Parallel()
	a := newArrivals(t)
	exp, err := runTemp(t, newHTTP, map[string]any{
		"duration": "1h", "qps": 0.0,
		"endpoints": map[string]any{
			"a": map[string]any{"url": a.url + "/a", "numRequests": 5.0},
			"b": map[string]any{"url": a.url + "/b", "numRequests": 3.0, "duration": "1h"}, // numRequests wins
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if a.get("/a").count != 5 || a.get("/b").count != 3 || value(t, exp, "http/request-count") != 8 {
		t.Errorf("server counted a %d, b %d; want 5 and 3", a.get("/a").count, a.get("/b").count)
	}

	m := newArrivals(t)
	exp, err = runTemp(t, newHTTP, map[string]any{
		"numRequests": 40.0, "qps": 0.0, "connections": 4.0,
		"endpoints": map[string]any{
			"a": map[string]any{"url": m.url + "/a", "weight": 1.0},
			"b": map[string]any{"url": m.url + "/b", "weight": 1.0},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	sa, sb := m.get("/a"), m.get("/b")
	if sa.count+sb.count != 40 || sa.count != 20 || value(t, exp, "http-a/request-count") != float64(sa.count) {
		t.Errorf("mix: server counted a %d, b %d; want 20 each", sa.count, sb.count)
	}
	if sa.first >= sb.last || sb.first >= sa.last {
		t.Errorf("a weighted mix ran in turn: a %+v, b %+v", sa, sb)
	}
}

// gRPC endpoints without weights run in turn too, each with its own total
// (or the task's), and stream metrics per endpoint and merged.
func TestGRPCEndpointsInTurn(t *testing.T) {
	t.Parallel()
	srv := startGRPC(t, demo.GRPCConfig{})
	exp, err := runTemp(t, newGRPC, map[string]any{
		"host": srv.Addr(), "total": 12.0, "concurrency": 3.0,
		"endpoints": map[string]any{
			"unary":  map[string]any{"call": "iter8.demo.v1.Demo.Unary", "total": 9.0, "rps": 300.0},
			"stream": map[string]any{"call": "iter8.demo.v1.Demo.ServerStream", "data": map[string]any{"count": 2}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Calls("Unary") != 9 || srv.Calls("ServerStream") != 12 {
		t.Errorf("server counted %d unary and %d stream calls, want 9 and 12", srv.Calls("Unary"), srv.Calls("ServerStream"))
	}
	for name, want := range map[string]float64{"grpc-unary/request-count": 9, "grpc-stream/request-count": 12, "grpc/request-count": 21, "grpc-stream/received-messages": 24, "grpc/received-messages": 24} {
		if got := value(t, exp, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if l := exp.Result.Insights.Load; l["grpc-unary"].IntendedRate != 300 || l["grpc-stream"].Mode != "closed" || l["grpc"].Codes["OK"] != 21 {
		t.Errorf("load: unary %+v, stream %+v, whole %+v", l["grpc-unary"], l["grpc-stream"], l["grpc"])
	}
}

// numRequests is exact: the target's first request also probes it, and no
// request is sent besides the ones measured (issue 14 item 10), alone, in
// turn or in a mix, open or closed loop; a gRPC total likewise.
func TestExactRequestCounts(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		with func(url string) map[string]any
		want map[string]int
	}{
		{"one url, closed loop", func(u string) map[string]any {
			return map[string]any{"url": u + "/a", "numRequests": 13.0, "qps": 0.0, "connections": 4.0}
		}, map[string]int{"/a": 13}},
		{"one url, open loop", func(u string) map[string]any {
			return map[string]any{"url": u + "/a", "numRequests": 11.0, "qps": 500.0}
		}, map[string]int{"/a": 11}},
		{"endpoints in turn", func(u string) map[string]any {
			return map[string]any{"numRequests": 6.0, "qps": 0.0, "endpoints": map[string]any{"a": map[string]any{"url": u + "/a"}, "b": map[string]any{"url": u + "/b", "numRequests": 4.0}}}
		}, map[string]int{"/a": 6, "/b": 4}},
		{"weighted mix", func(u string) map[string]any {
			return map[string]any{"numRequests": 10.0, "qps": 0.0, "endpoints": map[string]any{"a": map[string]any{"url": u + "/a", "weight": 1.0}, "b": map[string]any{"url": u + "/b", "weight": 1.0}}}
		}, map[string]int{"/a": 5, "/b": 5}},
	} {
		t.Run("http "+tt.name, func(t *testing.T) {
			t.Parallel()
			a := newArrivals(t)
			if _, err := runTemp(t, newHTTP, tt.with(a.url)); err != nil {
				t.Fatal(err)
			}
			for path, want := range tt.want {
				if got := a.get(path).count; got != want {
					t.Errorf("server counted %d requests to %s, want %d", got, path, want)
				}
			}
		})
	}
	t.Run("grpc", func(t *testing.T) {
		t.Parallel()
		srv := startGRPC(t, demo.GRPCConfig{})
		call := "iter8.demo.v1.Demo.Unary"
		for _, with := range []map[string]any{
			{"host": srv.Addr(), "call": call, "total": 17.0},
			{"host": srv.Addr(), "call": call, "total": 5.0, "endpoints": map[string]any{"a": map[string]any{}, "b": map[string]any{"total": 3.0}}},
			{"host": srv.Addr(), "call": call, "total": 6.0, "endpoints": map[string]any{"a": map[string]any{"weight": 1.0}, "b": map[string]any{"weight": 2.0}}},
		} {
			if _, err := runTemp(t, newGRPC, with); err != nil {
				t.Fatal(err)
			}
		}
		if got := srv.Calls("Unary"); got != 17+5+3+6 {
			t.Errorf("server counted %d calls, want %d", got, 17+5+3+6)
		}
	})
}

// An unreachable endpoint still fails the task at once, with the probe's
// message, when its turn comes; with allowInitialErrors its failures are
// counted instead.
func TestHTTPEndpointUnreachable(t *testing.T) {
	t.Parallel()
	a := newArrivals(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/"
	_ = ln.Close()
	with := func(allow bool) map[string]any {
		return map[string]any{"numRequests": 5.0, "qps": 0.0, "allowInitialErrors": allow, "endpoints": map[string]any{
			"a": map[string]any{"url": a.url + "/a"}, "b": map[string]any{"url": refused},
		}}
	}
	_, err = runTemp(t, newHTTP, with(false))
	if err == nil || !strings.HasPrefix(err.Error(), "cannot reach "+refused+": ") || !strings.HasSuffix(err.Error(), "(set allowInitialErrors: true to run anyway and count such failures as errors)") {
		t.Errorf("error %v", err)
	}
	exp, err := runTemp(t, newHTTP, with(true))
	if err != nil {
		t.Fatal(err)
	}
	if value(t, exp, "http-b/error-count") != 5 || value(t, exp, "http/error-count") != 5 || value(t, exp, "http/request-count") != 10 {
		t.Errorf("load %+v", exp.Result.Insights.Load)
	}
}

// fakeTarget stands for a protocol's target in recording tests.
type fakeTarget struct{ load.Target }

func (fakeTarget) Close()                                                                 {}
func (fakeTarget) protocol(int) string                                                    { return "HTTP/1.1" }
func (fakeTarget) record(*experiment.Insights, string, int, []float64, ...measured) error { return nil }

// stats are fixed stats of n requests of latency ms milliseconds.
func stats(n int, ms int) load.Stats {
	h := metrics.NewHDR()
	for range n {
		h.Record(time.Duration(ms) * time.Millisecond)
	}
	return load.Stats{Requests: int64(n), Latency: h, Service: h, Codes: map[string]int64{"200": int64(n)}}
}

// Runs made in turn merge honestly: exact histograms, counts and times add
// up, rates are those of the whole time, and a run that could not deliver
// its load makes verdicts on the whole invalid too (with its endpoint
// named), not only those on its own metrics.
func TestJoinTurns(t *testing.T) {
	t.Parallel()
	open := func(n, ms int, rate float64, elapsed time.Duration) *load.Report {
		st := stats(n, ms)
		st.Latency = metrics.NewHDR()
		st.Latency.Merge(st.Service)
		return &load.Report{Open: true, Total: st, Endpoints: []load.Stats{st}, Elapsed: elapsed, Sent: int64(n), IntendedRate: rate, AchievedRate: rate,
			Connections: 2, MaxConnections: 8, GeneratorLag: metrics.NewHDR(), CPUUtilization: 0.1}
	}
	a := open(100, 2, 100, time.Second)
	b := open(50, 4, 25, 4*time.Second)
	b.Saturated, b.SaturationReason, b.AchievedRate, b.CPUUtilization, b.CPUWait = true, "fell behind", 12.5, 0.6, 1
	a.GeneratorLateness, b.GeneratorLateness, a.UnsentHeld, b.UnsentHeld = 2*time.Millisecond, 5*time.Millisecond, 3, 4
	a.Total.Replayed, b.Total.Replayed = 2, 5
	a.Endpoints[0].Replayed, b.Endpoints[0].Replayed = 2, 5
	turns := []turn{{id: "a", rep: a, target: fakeTarget{}}, {id: "b", rep: b, target: fakeTarget{}}}
	got := joinTurns(turns)
	if got.Total.Requests != 150 || got.Total.Latency.Count() != 150 || got.Total.Service.Count() != 150 || got.Total.Codes["200"] != 150 {
		t.Errorf("total %+v", got.Total)
	}
	if got.Elapsed != 5*time.Second || got.Sent != 150 || !got.Open || got.MaxConnections != 8 {
		t.Errorf("elapsed %v sent %d open %v", got.Elapsed, got.Sent, got.Open)
	}
	// 150 requests scheduled over 1 s + 2 s; sent over 1 s + 4 s
	if got.IntendedRate != 50 || got.AchievedRate != 30 {
		t.Errorf("rates intended %v achieved %v, want 50 and 30", got.IntendedRate, got.AchievedRate)
	}
	if cpu := got.CPUUtilization; cpu < 0.4999 || cpu > 0.5001 {
		t.Errorf("cpu %v, want 0.5 (weighted by time)", cpu)
	}
	if got.Total.Replayed != 7 {
		t.Errorf("replayed %d, want the sum 7", got.Total.Replayed)
	}
	if got.GeneratorLateness != 5*time.Millisecond || got.UnsentHeld != 7 {
		t.Errorf("generator lateness %v, unsent held %d: want the larger and the sum", got.GeneratorLateness, got.UnsentHeld)
	}
	if wait := got.CPUWait; wait < 0.7999 || wait > 0.8001 {
		t.Errorf("cpu wait %v, want 0.8 (weighted by time)", wait)
	}
	if !got.Saturated || got.SaturationReason != "endpoint b: fell behind" {
		t.Errorf("saturated %v (%s)", got.Saturated, got.SaturationReason)
	}

	tk, err := newHTTP(map[string]any{"endpoints": map[string]any{"a": map[string]any{"url": "http://x"}, "b": map[string]any{"url": "http://y"}}})
	if err != nil {
		t.Fatal(err)
	}
	exp := &experiment.Experiment{Spec: []experiment.TaskSpec{{}}, Result: &experiment.Result{}}
	if err := tk.(*httpTask).recordTurns(&experiment.Env{Experiment: exp, Logger: discard()}, turns, got); err != nil {
		t.Fatal(err)
	}
	in := exp.Result.Insights
	for name, invalid := range map[string]bool{"http/latency-mean": true, "http-a/latency-mean": false, "http-b/latency-mean": true} {
		if why := in.Invalid(name, 0); (why != "") != invalid {
			t.Errorf("%s: invalid %q, want invalid %v", name, why, invalid)
		}
	}
	if v := value(t, exp, "http/request-count"); v != 150 {
		t.Errorf("http/request-count %v", v)
	}
}

// A cancelled run in turn keeps what the endpoints measured so far.
func TestEndpointsInTurnCancelled(t *testing.T) {
	t.Parallel()
	a := newArrivals(t)
	tk, err := newHTTP(map[string]any{"numRequests": 5.0, "qps": 0.0, "endpoints": map[string]any{
		"a": map[string]any{"url": a.url + "/a"}, "b": map[string]any{"url": a.url + "/b"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	exp := &experiment.Experiment{Spec: []experiment.TaskSpec{{}}, Result: &experiment.Result{}}
	err = tk.Run(ctx, &experiment.Env{Experiment: exp, Logger: discard(), Dir: t.TempDir()})
	if err != context.Canceled {
		t.Errorf("error %v, want context.Canceled", err)
	}
	if a.get("/b").count != 0 {
		t.Errorf("endpoint b ran after the cancellation: %d requests", a.get("/b").count)
	}
}

// The original's docs list warmupNumRequests and warmupDuration among an
// endpoint's parameters; its chart and task ignored them there, and so
// does iter8, as typed values (launch) and in files.
func TestEndpointWarmupValuesIgnored(t *testing.T) {
	t.Parallel()
	a := newArrivals(t)
	exp, err := runTemp(t, newHTTP, map[string]any{"numRequests": 3.0, "qps": 0.0, "endpoints": map[string]any{
		"a": map[string]any{"url": a.url + "/a", "warmupNumRequests": 10.0, "warmupDuration": "5s"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if a.get("/a").count != 3 || value(t, exp, "http-a/request-count") != 3 {
		t.Errorf("server counted %d requests, want 3", a.get("/a").count)
	}
	if _, err := newGRPC(map[string]any{"host": "h:1", "call": "a.B.C", "endpoints": map[string]any{"a": map[string]any{"warmupNumRequests": 10.0}}}); err != nil {
		t.Errorf("grpc: %v", err)
	}
}

// An abort condition watches each endpoint's run from its start; the one
// it stops ends the task (ErrAbort), with the runs so far recorded and the
// endpoint named.
func TestEndpointsInTurnAbort(t *testing.T) {
	skipInShortMode(t, "waits for a breach sustained over a second of wall clock; runs without -short")
	t.Parallel()
	srv := startHTTP(t, demo.HTTPConfig{})
	exp, err := runTemp(t, newHTTP, map[string]any{
		"qps": 20.0, "connections": 20.0, "duration": "2m",
		"abort": []any{map[string]any{"metric": "http/latency-p99", "limit": 100.0, "for": "1s"}},
		"endpoints": map[string]any{
			"a": map[string]any{"url": srv.URL() + "/a", "numRequests": 3.0},
			"b": map[string]any{"url": srv.URL() + "/b?delay=300ms"},
			"c": map[string]any{"url": srv.URL() + "/c"},
		},
	})
	if !errors.Is(err, experiment.ErrAbort) {
		t.Fatalf("error %v, want ErrAbort", err)
	}
	l := exp.Result.Insights.Load
	if l["http-a"].Requests != 3 || l["http-a"].Aborted != "" || l["http-b"].Aborted == "" || l["http-c"] != nil || srv.Count("GET", "/c") != 0 {
		t.Errorf("a %+v\nb %+v\nc %+v (%d requests)", l["http-a"], l["http-b"], l["http-c"], srv.Count("GET", "/c"))
	}
	if !strings.HasPrefix(l["http"].Aborted, "endpoint b: http/latency-p99 was above 100 for 1s") || l["http-b"].DurationSeconds > 20 {
		t.Errorf("whole: aborted %q after %vs", l["http"].Aborted, l["http-b"].DurationSeconds)
	}
}

// An endpoint run in turn may set the original's other endpoint inputs too:
// extra percentiles of its own, and allowInitialErrors.
func TestEndpointOwnPercentilesAndInitialErrors(t *testing.T) {
	t.Parallel()
	a := newArrivals(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/"
	_ = ln.Close()
	exp, err := runTemp(t, newHTTP, map[string]any{"numRequests": 4.0, "qps": 0.0, "percentiles": []any{42.0}, "endpoints": map[string]any{
		"a": map[string]any{"url": a.url + "/a", "percentiles": []any{97.5}},
		"b": map[string]any{"url": refused, "allowInitialErrors": true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	in := exp.Result.Insights
	for name, want := range map[string]bool{"http-a/latency-p97.5": true, "http-a/latency-p42": false, "http-a/latency-p99": true, "http/latency-p42": true, "http/latency-p97.5": false} {
		if _, ok := in.MetricsInfo[name]; ok != want {
			t.Errorf("%s recorded: %v, want %v", name, ok, want)
		}
	}
	if value(t, exp, "http-b/error-count") != 4 || a.get("/a").count != 4 {
		t.Errorf("b errors %v, a requests %d", value(t, exp, "http-b/error-count"), a.get("/a").count)
	}
}
