package task

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"iter8.tools/iter8/internal/demo"
	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/slo"
)

// An SLO breached for the configured window aborts the load task early, and
// the result says why.
func TestAbortOnSustainedBreach(t *testing.T) {
	skipInShortMode(t, "waits for a breach sustained over seconds of wall clock; runs without -short")
	t.Parallel()
	srv := startHTTP(t, demo.HTTPConfig{Latency: demo.Fixed(300 * time.Millisecond)})
	doc := `
spec:
- task: http
  with:
    url: ` + srv.URL() + `
    qps: 20
    connections: 20
    duration: 2m
    abort:
    - {metric: http/latency-p99, limit: 100, for: 2s}
- task: assess
  with: {SLOs: {upper: [{metric: http/latency-p99, limit: 100}]}}
`
	got, err := runner(t, doc).Loops(context.Background(), 3, 0)
	if !errors.Is(err, experiment.ErrAbort) {
		t.Fatalf("error %v, want ErrAbort", err)
	}
	res := got.Result
	ls := res.Insights.Load["http"]
	t.Logf("aborted after %.1fs: %s", ls.DurationSeconds, ls.Aborted)
	if !res.Aborted || res.NumLoops != 1 || !strings.Contains(res.FailureReason, "http/latency-p99 was above 100 for 2s") {
		t.Errorf("result: aborted %v loops %d reason %q", res.Aborted, res.NumLoops, res.FailureReason)
	}
	if ls.DurationSeconds > 20 || !strings.Contains(ls.Aborted, "http/latency-p99 was above 100 for 2s") {
		t.Errorf("load ran %.1fs, aborted %q", ls.DurationSeconds, ls.Aborted)
	}
	if v := value(t, got, "http/latency-p99"); v < 300 {
		t.Errorf("measurements before the abort were not kept: p99 %v", v)
	}
	// At 20 req/s against 300 ms, about 6 requests are in flight at any
	// time: cut short by the abort, in the latency, not errors.
	if n := ls.Codes["in-flight-at-abort"]; n == 0 || ls.Errors != 0 || value(t, got, "http/request-count") != float64(ls.Requests) {
		t.Errorf("codes %v, %d errors of %d requests: want the requests in flight at the abort counted apart, not as errors", ls.Codes, ls.Errors, ls.Requests)
	}
}

func TestAbortInputErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cond map[string]any
		want string
	}{
		{map[string]any{"metric": "grpc/latency/p99", "limit": 1.0, "for": "2s"}, `field "abort[0].metric": invalid value "grpc/latency/p99": expected http/error-rate`},
		{map[string]any{"metric": "http/request-count", "limit": 1.0, "for": "2s"}, `field "abort[0].metric"`},
		{map[string]any{"metric": "http/error-rate", "limit": 1.0, "for": "100ms"}, `field "abort[0].for": invalid value "100ms": expected a duration of at least 1s`},
	} {
		_, err := newHTTP(map[string]any{"url": "http://x", "abort": []any{tt.cond}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want %q", err, tt.want)
		}
	}
}

// assess over a window of loops fails an SLO that did not hold in each of
// them; abortOnFailure stops further loops, but not while the window is
// not full.
func TestAssessWindowAndAbort(t *testing.T) {
	t.Parallel()
	history := []experiment.LoopSummary{
		{Loop: 1, Values: []map[string]float64{{"app/latency": 50}}, SLOs: [][]slo.Outcome{{slo.Passed}}},
		{Loop: 2, Values: []map[string]float64{{"app/latency": 500}}, SLOs: [][]slo.Outcome{{slo.Failed}}},
		{Loop: 3, Values: []map[string]float64{{"app/latency": 60}}, SLOs: [][]slo.Outcome{{slo.Passed}}},
	}
	for _, tt := range []struct {
		window  float64
		outcome slo.Outcome
	}{{1, slo.Passed}, {2, slo.Passed}, {3, slo.Failed}, {10, slo.Failed}} {
		tk, err := newAssess(map[string]any{"window": tt.window, "SLOs": map[string]any{"upper": []any{map[string]any{"metric": "app/latency", "limit": 100.0}}}})
		if err != nil {
			t.Fatal(err)
		}
		exp := &experiment.Experiment{Result: &experiment.Result{NumLoops: 4, History: history}}
		in, _ := exp.Result.InitInsights(1, nil)
		_ = in.SetValue("app/latency", metricsMeta(), 0, 70)
		if err := tk.Run(context.Background(), &experiment.Env{Experiment: exp, Logger: discard()}); err != nil {
			t.Fatal(err)
		}
		r := in.SLOVerdicts[0].Versions[0]
		if r.Outcome != tt.outcome {
			t.Errorf("window %v: %s (%s), want %s", tt.window, r.Outcome, r.Reason, tt.outcome)
		}
		if tt.outcome == slo.Failed && !strings.Contains(r.Reason, "not satisfied in loop 2") {
			t.Errorf("window %v: reason %q", tt.window, r.Reason)
		}
	}
	tk, _ := newAssess(map[string]any{"abortOnFailure": true, "SLOs": map[string]any{"upper": []any{map[string]any{"metric": "app/latency", "limit": 10.0}}}})
	exp := &experiment.Experiment{Result: &experiment.Result{}}
	in, _ := exp.Result.InitInsights(1, nil)
	_ = in.SetValue("app/latency", metricsMeta(), 0, 70)
	err := tk.Run(context.Background(), &experiment.Env{Experiment: exp, Logger: discard()})
	if !errors.Is(err, experiment.ErrAbort) || !strings.Contains(err.Error(), "app/latency <= 10 for version 0: value 70 is above the limit 10") {
		t.Errorf("abortOnFailure: %v", err)
	}
	// a window that is not full yet is not judged, and stops nothing
	tk, _ = newAssess(map[string]any{"abortOnFailure": true, "window": 3.0, "SLOs": map[string]any{"upper": []any{map[string]any{"metric": "app/latency", "limit": 100.0}}}})
	exp = &experiment.Experiment{Result: &experiment.Result{NumLoops: 1}}
	in, _ = exp.Result.InitInsights(1, nil)
	_ = in.SetValue("app/latency", metricsMeta(), 0, 70)
	if err := tk.Run(context.Background(), &experiment.Env{Experiment: exp, Logger: discard()}); err != nil {
		t.Errorf("abortOnFailure, window not full: %v", err)
	}
	if r := in.SLOVerdicts[0].Versions[0]; r.Outcome != slo.NotJudged {
		t.Errorf("window not full: %s (%s), want notJudged", r.Outcome, r.Reason)
	}
	if _, err := newAssess(map[string]any{"window": 0.0}); err == nil {
		t.Error("window 0 accepted")
	}
}

// A window reads each SLO's own outcomes in earlier loops, matched by its
// objective, when the spec's SLOs changed between loops (a hand-edited
// experiment run again with its result reused): reordered SLOs keep their
// records, and an SLO that earlier loops did not declare (a new limit) has
// no record there, so its window is not full. Matched by position, the
// reordered latency SLO passed on the error SLO's record, and the error
// SLO failed on the latency SLO's.
func TestAssessWindowAcrossSpecChange(t *testing.T) {
	t.Parallel()
	lat, errs := "app/latency <= 100", "app/errors <= 0"
	var history []experiment.LoopSummary
	for loop, latOutcome := range []slo.Outcome{slo.Passed, slo.Failed, slo.Passed} {
		history = append(history, experiment.LoopSummary{Loop: loop + 1, SLOKeys: []string{lat, errs},
			Values: []map[string]float64{{"app/latency": 50, "app/errors": 0}},
			SLOs:   [][]slo.Outcome{{latOutcome}, {slo.Passed}}})
	}
	history[1].Values[0]["app/latency"] = 500
	upper := func(slos ...[2]any) map[string]any {
		var list []any
		for _, s := range slos {
			list = append(list, map[string]any{"metric": s[0], "limit": s[1]})
		}
		return map[string]any{"window": 3.0, "SLOs": map[string]any{"upper": list}}
	}
	for _, tt := range []struct {
		name string
		with map[string]any
		want []slo.Outcome
		why  []string
	}{
		{"reordered", upper([2]any{"app/errors", 0.0}, [2]any{"app/latency", 100.0}),
			[]slo.Outcome{slo.Passed, slo.Failed}, []string{"", "not satisfied in loop 2"}},
		{"a new limit", upper([2]any{"app/latency", 200.0}, [2]any{"app/errors", 0.0}),
			[]slo.Outcome{slo.NotJudged, slo.Passed}, []string{"has 1 recorded so far", ""}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tk, err := newAssess(tt.with)
			if err != nil {
				t.Fatal(err)
			}
			exp := &experiment.Experiment{Result: &experiment.Result{NumLoops: 4, History: history}}
			in, _ := exp.Result.InitInsights(1, nil)
			_ = in.SetValue("app/latency", metricsMeta(), 0, 70)
			_ = in.SetValue("app/errors", metricsMeta(), 0, 0)
			if err := tk.Run(context.Background(), &experiment.Env{Experiment: exp, Logger: discard()}); err != nil {
				t.Fatal(err)
			}
			for i, v := range in.SLOVerdicts {
				if r := v.Versions[0]; r.Outcome != tt.want[i] || !strings.Contains(r.Reason, tt.why[i]) {
					t.Errorf("%s: %s (%s), want %s (%s)", v.String(), r.Outcome, r.Reason, tt.want[i], tt.why[i])
				}
			}
		})
	}
}
