// Command fixturegen writes the report fixtures in internal/report/testdata
// from real runs: it starts in-process targets on 127.0.0.1, runs experiments
// with iter8's runner and tasks, and then, for the cases a single run cannot
// produce yet (two versions, hostile names, an experiment still running),
// edits the recorded result. The fixtures are committed; rerun this only to
// refresh them (their numbers change from run to run):
//
//	go run ./internal/report/testdata/fixturegen internal/report/testdata
//
// With -derived, it rewrites only the fixtures edited from one-version.yaml
// (hostile, connection-bound) from the committed one, without a run; with
// -aborted, only aborted.yaml, from a run.
package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"iter8.tools/iter8/internal/demo"
	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/slo"
	"iter8.tools/iter8/internal/store"
	"iter8.tools/iter8/internal/task"
)

func main() {
	switch {
	case len(os.Args) == 3 && os.Args[1] == "-derived":
		if err := derived(os.Args[2]); err != nil {
			fmt.Fprintln(os.Stderr, "fixturegen:", err)
			os.Exit(1)
		}
		return
	case len(os.Args) == 3 && os.Args[1] == "-aborted":
		exp, err := abortedRun(context.Background())
		if err == nil {
			err = save(os.Args[2], "aborted.yaml", exp)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "fixturegen:", err)
			os.Exit(1)
		}
		return
	case len(os.Args) != 2:
		fmt.Fprintln(os.Stderr, "usage: fixturegen [-derived | -aborted] DIR")
		os.Exit(2)
	}
	if err := run(context.Background(), os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "fixturegen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out string) error {
	fast, err := demo.StartHTTP(demo.HTTPConfig{
		Latency:   demo.LogNormal(5*time.Millisecond, 25*time.Millisecond),
		ErrorRate: 0.01,
		ErrorCode: 503,
		Stalls:    []demo.Stall{{After: 120, For: 150 * time.Millisecond}},
	}, "")
	if err != nil {
		return err
	}
	defer fast.Close()
	slow, err := demo.StartHTTP(demo.HTTPConfig{
		Latency:   demo.LogNormal(9*time.Millisecond, 60*time.Millisecond),
		ErrorRate: 0.03,
		ErrorCode: 503,
	}, "")
	if err != nil {
		return err
	}
	defer slow.Close()

	save := func(name string, exp *experiment.Experiment) error { return save(out, name, exp) }

	// one version: the demo experiment with one SLO that fails
	one, err := runLoops(ctx, 1, func(int) string {
		return `spec:
- task: http
  with:
    url: ` + fast.URL() + `/get
    duration: 4s
    qps: 50
    connections: 8
- task: assess
  with:
    SLOs:
      upper:
      - {metric: http/latency-mean, limit: 50}
      - {metric: http/latency-p99, limit: 100}
      - {metric: http/error-rate, limit: 0.02}
      - {metric: http/error-count, limit: 0}
`
	})
	if err != nil {
		return err
	}
	if err := save("one-version.yaml", one); err != nil {
		return err
	}

	// two versions: the same experiment against a fast and a slow target,
	// merged into one two-version result (until a task measures versions
	// side by side, this is how such a result looks)
	second, err := runLoops(ctx, 1, func(int) string {
		return strings.ReplaceAll(`spec:
- task: http
  with:
    url: URL/get
    duration: 4s
    qps: 50
    connections: 8
`, "URL", slow.URL())
	})
	if err != nil {
		return err
	}
	two := mergeVersions(one, second)
	if err := save("two-versions.yaml", two); err != nil {
		return err
	}

	// endpoints: a weighted mix, one endpoint slow, one resetting connections
	eps, err := runLoops(ctx, 1, func(int) string {
		return `spec:
- task: http
  with:
    duration: 4s
    qps: 60
    connections: 8
    headers: {X-Test: fixture}
    endpoints:
      list: {url: "` + fast.URL() + `/items", weight: 6}
      buy: {url: "` + fast.URL() + `/orders?delay=30ms", method: POST, payloadStr: '{"item": 1}', contentType: application/json, weight: 3}
      flaky: {url: "` + fast.URL() + `/flaky?fault=reset", weight: 1}
    allowInitialErrors: true
- task: assess
  with:
    SLOs:
      upper:
      - {metric: http-list/latency-p99, limit: 50}
      - {metric: http-buy/latency-p99, limit: 50}
      - {metric: http-flaky/error-rate, limit: 0.01}
      - {metric: http/error-rate, limit: 0.2}
`
	})
	if err != nil {
		return err
	}
	if err := save("endpoints.yaml", eps); err != nil {
		return err
	}

	// gRPC: unary calls through server reflection, 2% of them Unavailable
	gsrv, err := demo.StartGRPC(demo.GRPCConfig{
		Latency:   demo.LogNormal(4*time.Millisecond, 20*time.Millisecond),
		ErrorRate: 0.02,
	}, "")
	if err != nil {
		return err
	}
	defer gsrv.Close()
	grpcExp, err := runLoops(ctx, 1, func(int) string {
		return `spec:
- task: grpc
  with:
    host: ` + gsrv.Addr() + `
    call: helloworld.Greeter.SayHello
    data: {name: iter8}
    duration: 3s
    rps: 60
    concurrency: 8
- task: assess
  with:
    SLOs:
      upper:
      - {metric: grpc/error-rate, limit: 0.01}
      - {metric: grpc/latency/mean, limit: 20}
      - {metric: grpc/latency/p99, limit: 100}
`
	})
	if err != nil {
		return err
	}
	if err := save("grpc.yaml", grpcExp); err != nil {
		return err
	}

	// multi-loop: 60 short loops, the target slowing down and recovering in
	// waves; past 50 loops the oldest are merged ten at a time
	multi, err := runLoops(ctx, 60, func(loop int) string {
		delay := 1 + 2.5*(1-math.Cos(float64(loop)*2*math.Pi/25))
		return `spec:
- task: http
  with:
    url: ` + fast.URL() + `/get?delay=` + strconv.FormatFloat(math.Round(delay*10)/10, 'f', -1, 64) + `ms
    numRequests: 16
    qps: 80
    connections: 4
- task: assess
  with:
    SLOs:
      upper:
      - {metric: http/latency-mean, limit: 5}
      - {metric: http/latency-p99.9, limit: 12}
      - {metric: http/error-rate, limit: 0.02}
`
	})
	if err != nil {
		return err
	}
	if err := save("multi-loop.yaml", multi); err != nil {
		return err
	}

	// no data: SLOs on metrics nothing recorded, a custom metric whose query
	// returns nothing (its SLO ignores no data) and one whose query fails;
	// and an invalid run: one connection cannot deliver the intended rate
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("q") == "refunds" {
			http.Error(w, "upstream database unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"data": {"result": []}}`))
	}))
	defer shop.Close()
	const shopTemplate = `url: {{ .url }}
metrics:
- name: conversion-rate
  type: gauge
  description: orders per visit
  params: [{name: q, value: conversion}]
  jqExpression: .data.result[0].value[1]
- name: refunds
  type: counter
  description: refunded orders
  params: [{name: q, value: refunds}]
  jqExpression: .value
`
	nodata, err := runLoops(ctx, 1, func(int) string {
		return `spec:
- task: http
  with:
    url: ` + fast.URL() + `/get?delay=20ms
    duration: 2s
    qps: 200
    connections: 1
- task: custommetrics
  with:
    templates: {shop: ./shop.tpl}
    values: {url: "` + shop.URL + `/api"}
- task: assess
  with:
    SLOs:
      upper:
      - {metric: http/latency-p99, limit: 100}
      - {metric: http-checkout/latency-p99, limit: 100}
      - {metric: shop/refunds, limit: 10}
      lower:
      - {metric: shop/conversion-rate, limit: 0.05, onNoData: ignore}
`
	}, "shop.tpl", shopTemplate)
	if err != nil {
		return err
	}
	if err := save("no-data.yaml", nodata); err != nil {
		return err
	}

	// failed: a run task fails after load and assessment; the last task never runs
	failed, err := runLoops(ctx, 1, func(int) string {
		return `spec:
- task: http
  with:
    url: ` + fast.URL() + `/get
    numRequests: 60
    qps: 30
- task: assess
  with:
    SLOs:
      upper:
      - {metric: http/latency-p95, limit: 30}
- run: |
    echo "deploying candidate"
    echo "error: kubectl rollout status timed out" >&2
    exit 3
- run: echo promoted
`
	})
	if err == nil || failed == nil {
		return fmt.Errorf("the failed experiment did not fail as expected: %v", err)
	}
	if err := save("failed.yaml", failed); err != nil {
		return err
	}

	// outage: three loops; in the third the target is down, so the http
	// task fails and its SLOs are not judged (never passed on the values
	// of the loop before)
	outage, err := runLoops(ctx, 3, func(loop int) string {
		url := fast.URL() + "/get"
		if loop == 2 {
			url = "http://127.0.0.1:1/get"
		}
		return `spec:
- task: http
  with:
    url: ` + url + `
    numRequests: 16
    qps: 16
    connections: 4
- task: assess
  with:
    window: 2
    SLOs:
      upper:
      - {metric: http/latency-mean, limit: 100}
      - {metric: http/error-rate, limit: 0.5}
`
	})
	if err == nil || outage == nil || outage.Result.NumLoops != 3 {
		return fmt.Errorf("the outage experiment did not fail in its third loop as expected: %v", err)
	}
	if err := save("outage.yaml", outage); err != nil {
		return err
	}

	// no insights yet: the first task is still running
	start := time.Date(2026, 11, 27, 13, 20, 0, 0, time.UTC)
	pending := &experiment.Experiment{
		Spec: one.Spec,
		Result: &experiment.Result{
			StartTime:    start,
			NumLoops:     1,
			Tasks:        []experiment.TaskStatus{{Name: "http", State: experiment.Running}, {Name: "assess", State: experiment.Pending}},
			Iter8Version: one.Result.Iter8Version,
		},
	}
	if err := save("no-insights.yaml", pending); err != nil {
		return err
	}
	aborted, err := abortedRun(ctx)
	if err != nil {
		return err
	}
	if err := save("aborted.yaml", aborted); err != nil {
		return err
	}
	return saveDerived(out, one)
}

// abortedRun runs a load task that its abort condition stops, against a
// target that stalls after 20 requests: the requests in flight when it
// stops are in the latency at the time they had taken, those due
// meanwhile that waited for a connection the stall held at that wait, and
// the SLOs are not judged.
func abortedRun(ctx context.Context) (*experiment.Experiment, error) {
	slow, err := demo.StartHTTP(demo.HTTPConfig{Latency: demo.Fixed(5 * time.Millisecond), Stalls: []demo.Stall{{After: 20, For: 10 * time.Second}}}, "")
	if err != nil {
		return nil, err
	}
	defer slow.Close()
	exp, err := runLoops(ctx, 1, func(int) string {
		return `spec:
- task: http
  with:
    url: ` + slow.URL() + `/get
    qps: 20
    duration: 1m
    abort:
    - {metric: http/latency-p99, limit: 100, for: 1s}
- task: assess
  with:
    SLOs:
      upper:
      - {metric: http/latency-p99, limit: 100}
      - {metric: http/error-count, limit: 0}
`
	})
	if !errors.Is(err, experiment.ErrAbort) || exp == nil {
		return nil, fmt.Errorf("the aborted experiment did not abort as expected: %v", err)
	}
	return exp, nil
}

// save writes a fixture.
func save(dir, name string, exp *experiment.Experiment) error {
	b, err := experiment.Encode(exp)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), b, 0o644)
}

// derived rewrites the fixtures edited from the committed one-version.yaml.
func derived(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "one-version.yaml"))
	if err != nil {
		return err
	}
	one, err := experiment.Decode(b)
	if err != nil {
		return err
	}
	return saveDerived(dir, one)
}

// saveDerived writes the fixtures edited from the one-version experiment.
func saveDerived(dir string, one *experiment.Experiment) error {
	if err := save(dir, "connection-bound.yaml", connectionBound(one)); err != nil {
		return err
	}
	return save(dir, "hostile.yaml", hostile(one))
}

// clone copies an experiment through its encoding.
func clone(src *experiment.Experiment) *experiment.Experiment {
	b, err := experiment.Encode(src)
	if err != nil {
		panic(err)
	}
	exp, err := experiment.Decode(b)
	if err != nil {
		panic(err)
	}
	return exp
}

// connectionBound copies an experiment and makes its open-loop run one
// that grew its connections to the cap against a slow target (the
// connection-bound warning, not an invalid run), some of whose requests
// timed out (their latencies are lower bounds) and some were sent again
// after a reset (replayed), as the load engine records it.
func connectionBound(src *experiment.Experiment) *experiment.Experiment {
	exp := clone(src)
	ls := exp.Result.Insights.Load["http"]
	ls.InitialConnections, ls.Connections, ls.MaxConnections, ls.ConnectionBound = 4, 8, 8, true
	for _, t := range exp.Spec {
		if t.Task != nil && *t.Task == "http" {
			t.With["connections"] = 4
		}
	}
	ls.Delayed, ls.TimedOut, ls.Unsent, ls.Replayed = 61, 3, 2, 4
	ls.Warning = "connection-bound: 61 of 200 requests waited for one of the 8 connections (the cap): the target's mean service time of 152.4 ms at 50 req/s needs about 8; their waits are in the latency; 2 requests due within the duration could not start before it ended"
	return exp
}

// hostile copies an experiment and puts markup and quotes everywhere a
// report shows text from the experiment.
func hostile(src *experiment.Experiment) *experiment.Experiment {
	exp := clone(src)
	const evilURL = `http://127.0.0.1:1/?q="><script>alert('url')</script>&x='y'`
	exp.Spec[0].With["url"] = evilURL
	res := exp.Result
	res.Failure = true
	res.FailureReason = "task 1 (http) failed: cannot reach " + evilURL + "\x1b[2J"
	res.Tasks[0].Error = `<img src=x onerror="alert('task')">`
	in := res.Insights
	in.VersionNames = []experiment.VersionInfo{{Version: `v1"><script>alert('v')</script>`, Track: `<b onmouseover=alert(1)>`}}
	rename := func(from, to string) {
		if m, ok := in.MetricsInfo[from]; ok {
			delete(in.MetricsInfo, from)
			in.MetricsInfo[to] = m
		}
		for _, vals := range in.NonHistMetricValues {
			if v, ok := vals[from]; ok {
				delete(vals, from)
				vals[to] = v
			}
		}
		for i := range in.SLOVerdicts {
			if in.SLOVerdicts[i].Metric == from {
				in.SLOVerdicts[i].Metric = to
			}
		}
		for i := range in.SLOs.Upper {
			if in.SLOs.Upper[i].Metric == from {
				in.SLOs.Upper[i].Metric = to
			}
		}
		for _, hs := range in.Histograms {
			if h, ok := hs[from]; ok {
				delete(hs, from)
				hs[to] = h
			}
		}
		for _, hs := range in.HistMetricValues {
			if h, ok := hs[from]; ok {
				delete(hs, from)
				hs[to] = h
			}
		}
	}
	rename("http/error-count", `http/error-count<script>alert("metric")</script>`)
	rename("http/latency", `http/latency"><script>alert('hist')</script>`)
	m := in.MetricsInfo["http/latency-mean"]
	m.Description = `</style><script>alert('desc')</script>`
	m.Units = `"'><b>ms`
	in.MetricsInfo["http/latency-mean"] = m
	m = in.MetricsInfo["http/error-rate"]
	m.Description = "fraction of responses\x1b]0;terminal title\a\x1b[2J that were errors" // terminal escapes
	in.MetricsInfo["http/error-rate"] = m
	ls := in.Load["http"]
	ls.Codes[`<svg onload=alert('code')>`] = 3
	ls.Saturated = true
	ls.SaturationReason = `achieved 1 req/s < intended; see <a href="javascript:alert('r')">here</a>`
	in.Load[`http"><script>alert('provider')</script>`] = ls
	return exp
}

// runLoops runs an experiment for n loops in a temporary folder; spec gives
// the experiment of each loop (loops may change it, as a user editing the
// file between CronJob runs would); files are name, content pairs written
// next to it.
func runLoops(ctx context.Context, n int, spec func(loop int) string, files ...string) (*experiment.Experiment, error) {
	dir, err := os.MkdirTemp("", "fixturegen-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	for i := 0; i+1 < len(files); i += 2 {
		if err := os.WriteFile(filepath.Join(dir, files[i]), []byte(files[i+1]), 0o644); err != nil {
			return nil, err
		}
	}
	var exp *experiment.Experiment
	for loop := range n {
		doc := spec(loop)
		if loop > 0 {
			prev, err := store.NewFile(dir).Load(ctx)
			if err != nil {
				return nil, err
			}
			next, err := experiment.Decode([]byte(doc))
			if err != nil {
				return nil, err
			}
			prev.Spec = next.Spec
			b, err := experiment.Encode(prev)
			if err != nil {
				return nil, err
			}
			doc = string(b)
		}
		if err := os.WriteFile(filepath.Join(dir, store.FileName), []byte(doc), 0o644); err != nil {
			return nil, err
		}
		r := &experiment.Runner{Store: store.NewFile(dir), Registry: task.Registry(task.Deps{}), Dir: dir, Version: "v0.14.0", ReuseResult: loop > 0}
		exp, err = r.Run(ctx)
		if err != nil && (loop == n-1 || !errors.Is(err, experiment.ErrFailed)) {
			return exp, err
		}
	}
	return exp, nil
}

// mergeVersions makes a two-version result from two one-version runs and
// judges a's SLOs on both.
func mergeVersions(a, b *experiment.Experiment) *experiment.Experiment {
	out := *a
	res := *a.Result
	in := *a.Result.Insights
	bi := b.Result.Insights
	in.NumVersions = 2
	in.VersionNames = []experiment.VersionInfo{{Version: "v1", Track: "stable"}, {Version: "v2", Track: "candidate"}}
	in.NonHistMetricValues = append(in.NonHistMetricValues[:1:1], bi.NonHistMetricValues[0])
	in.HistMetricValues = append(in.HistMetricValues[:1:1], bi.HistMetricValues[0])
	in.Histograms = append(in.Histograms[:1:1], bi.Histograms[0])
	in.Load = nil // load is recorded per provider, not per version
	var objs []slo.Objective
	for _, v := range in.SLOVerdicts {
		objs = append(objs, v.Objective)
	}
	in.SLOVerdicts = slo.Evaluate(objs, 2, &in)
	sat := &experiment.SLOResults{}
	for _, v := range in.SLOVerdicts {
		row := []bool{v.Versions[0].Outcome == slo.Passed, v.Versions[1].Outcome == slo.Passed}
		sat.Upper = append(sat.Upper, row)
	}
	in.SLOsSatisfied = sat
	res.Insights = &in
	res.History = nil
	out.Result = &res
	return &out
}
