package task

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/slo"
)

// assess without SLOs judges nothing: it is bad input, not a pass.
func TestAssessNeedsSLOs(t *testing.T) {
	t.Parallel()
	for _, with := range []map[string]any{nil, {"SLOs": map[string]any{}}, {"SLOs": map[string]any{"upper": []any{}}}, {"window": 3.0}} {
		_, err := newAssess(with)
		if !errors.Is(err, inputs.ErrInvalid) || !strings.Contains(err.Error(), `field "SLOs" is missing`) {
			t.Errorf("%v: error %v, want SLOs missing", with, err)
		}
	}
}

// A window judges each previous loop by the outcome that loop recorded
// for its own values: a loop that did not judge the SLO because a task
// failed (notJudged, or no outcome at all) or did not pass it (failed,
// invalid) breaks the window; one whose assess its if: skipped leaves the
// window not full (neither a pass nor a failure, so no abort);
// whatever values it kept (they are rounded); no data breaks it unless the
// objective ignores no data. The window counts loops, not history
// entries: a merged entry must have passed in each loop it covers, and
// one the window does not reach does not count. A loop with no record (its
// process was killed) never passed, and a window that reaches before the
// first loop is not judged yet.
func TestAssessWindowNeedsFreshJudgements(t *testing.T) {
	t.Parallel()
	ok := []map[string]float64{{"app/latency": 50}}
	loop := func(n int, o slo.Outcome) experiment.LoopSummary {
		return experiment.LoopSummary{Loop: n, Values: ok, SLOs: [][]slo.Outcome{{o}}}
	}
	failedLoop := func(n int) experiment.LoopSummary {
		l := loop(n, slo.NotJudged)
		l.Failure = true
		return l
	}
	merged := func(last, passed int) experiment.LoopSummary {
		return experiment.LoopSummary{Loop: last, Loops: 10, Values: ok, SLOsPassed: [][]int{{passed}}}
	}
	for _, tt := range []struct {
		name     string
		window   float64
		loops    int
		history  []experiment.LoopSummary
		onNoData string
		value    *float64 // the current loop's value (nil: none)
		outcome  slo.Outcome
		reason   string
	}{
		{"all judged", 3, 3, []experiment.LoopSummary{loop(1, slo.Passed), loop(2, slo.Passed)}, "", ptr(70), slo.Passed, ""},
		{"not judged, the loop failed", 3, 3, []experiment.LoopSummary{loop(1, slo.Passed), failedLoop(2)}, "", ptr(70),
			slo.Failed, "not judged in loop 2 (no data): a loop without a fresh judgement does not count as passed, in the window of 3 loops"},
		// a loop whose assess its own if: skipped (a warm-up loop) does not
		// break the window, nor pass it: the window is not full
		{"skipped by its if:", 3, 3, []experiment.LoopSummary{loop(1, slo.Passed), loop(2, slo.NotJudged)}, "", ptr(70),
			slo.NotJudged, "the window of 3 loops holds loop 2, whose assess task its if: condition skipped"},
		{"skipped by its if:, then a failure", 3, 3, []experiment.LoopSummary{loop(1, slo.NotJudged), loop(2, slo.Failed)}, "", ptr(70),
			slo.Failed, "not satisfied in loop 2"},
		{"no outcome", 3, 3, []experiment.LoopSummary{loop(1, slo.Passed), {Loop: 2, Values: ok}}, "", ptr(70), slo.Failed, "not judged in loop 2 (no data)"},
		{"failed, its value rounded to the limit", 3, 3, []experiment.LoopSummary{loop(1, slo.Passed),
			{Loop: 2, Values: []map[string]float64{{"app/latency": 100}}, SLOs: [][]slo.Outcome{{slo.Failed}}}}, "", ptr(70),
			slo.Failed, "not satisfied in loop 2: its outcome was failed, in the window of 3 loops"},
		{"invalid", 3, 3, []experiment.LoopSummary{loop(1, slo.Passed), loop(2, slo.Invalid)}, "", ptr(70), slo.Failed, "not satisfied in loop 2: its outcome was invalid"},
		{"no data", 3, 3, []experiment.LoopSummary{loop(1, slo.Passed), loop(2, slo.NoData)}, "", ptr(70), slo.Failed, "not satisfied in loop 2: its outcome was noData"},
		{"no data, ignored", 3, 3, []experiment.LoopSummary{loop(1, slo.Passed), loop(2, slo.NoData)}, "ignore", ptr(70), slo.Passed, ""},
		{"no data now, ignored, after a failure", 3, 3, []experiment.LoopSummary{loop(1, slo.Failed), loop(2, slo.Passed)}, "ignore", nil,
			slo.Failed, "not satisfied in loop 1"},
		{"merged, one loop failed", 3, 22, []experiment.LoopSummary{merged(20, 9), loop(21, slo.Passed)}, "", ptr(70),
			slo.Failed, "passed in 9 of the 10 loops ending at loop 20, in the window of 3 loops"},
		{"merged, all passed", 3, 22, []experiment.LoopSummary{merged(20, 10), loop(21, slo.Passed)}, "", ptr(70), slo.Passed, ""},
		{"a loop with no record (killed)", 2, 3, []experiment.LoopSummary{loop(1, slo.Passed)}, "", ptr(70),
			slo.Failed, "not judged in loop 2 (no record: it did not end, its process stopped first)"},
		// a result of the original Iter8 (no history) reused: its loops
		// were not judged here, and do not break the window
		{"loops before the history", 3, 3, []experiment.LoopSummary{loop(2, slo.Passed)}, "", ptr(70), slo.NotJudged, "the window of 3 loops has 2 recorded so far"},
		{"no history at all", 3, 6, nil, "", ptr(70), slo.NotJudged, "the window of 3 loops has 1 recorded so far"},
		{"window not full", 5, 2, []experiment.LoopSummary{loop(1, slo.Passed)}, "", ptr(70),
			slo.NotJudged, "the window of 5 loops has 2 recorded so far (the SLO held in each); it is judged once the window is full"},
		{"window not full, first loop", 5, 1, nil, "", ptr(70), slo.NotJudged, "has 1 recorded so far"},
		{"window not full, broken already", 5, 2, []experiment.LoopSummary{loop(1, slo.Failed)}, "", ptr(70), slo.Failed, "not satisfied in loop 1"},
		{"merged, beyond the window", 12, 23, []experiment.LoopSummary{merged(10, 9), merged(20, 10), loop(21, slo.Passed), loop(22, slo.Passed)}, "", ptr(70), slo.Passed, ""},
	} {
		o := map[string]any{"metric": "app/latency", "limit": 100.0}
		if tt.onNoData != "" {
			o["onNoData"] = tt.onNoData
		}
		tk, err := newAssess(map[string]any{"window": tt.window, "SLOs": map[string]any{"upper": []any{o}}})
		if err != nil {
			t.Fatal(err)
		}
		exp := &experiment.Experiment{Result: &experiment.Result{NumLoops: tt.loops, History: tt.history}}
		in, _ := exp.Result.InitInsights(1, nil)
		if tt.value != nil {
			_ = in.SetValue("app/latency", metricsMeta(), 0, *tt.value)
		}
		if err := tk.Run(context.Background(), &experiment.Env{Experiment: exp, Logger: discard()}); err != nil {
			t.Fatal(err)
		}
		r := in.SLOVerdicts[0].Versions[0]
		if r.Outcome != tt.outcome || !strings.Contains(r.Reason, tt.reason) {
			t.Errorf("%s: %s (%s), want %s (%s)", tt.name, r.Outcome, r.Reason, tt.outcome, tt.reason)
		}
	}
}

func ptr(v float64) *float64 { return &v }

// Each assess task records its verdicts at its own place among the spec's
// SLOs (Env.SLOIndex), and the original's SLOs and SLOsSatisfied follow.
func TestAssessRecordsAtItsPlace(t *testing.T) {
	t.Parallel()
	tk, err := newAssess(map[string]any{"SLOs": map[string]any{
		"upper": []any{map[string]any{"metric": "app/latency", "limit": 100.0}},
		"lower": []any{map[string]any{"metric": "app/count", "limit": 10.0}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	objs := tk.(experiment.Judge).Objectives()
	if len(objs) != 2 || objs[0].Direction != slo.Upper || objs[1].Direction != slo.Lower {
		t.Fatalf("objectives %+v", objs)
	}
	exp := &experiment.Experiment{Result: &experiment.Result{NumLoops: 1}}
	in, _ := exp.Result.InitInsights(1, nil)
	first := slo.NotJudgedVerdicts([]slo.Objective{{Metric: "app/errors", Direction: slo.Upper}}, 1, "skipped")
	in.SetVerdicts(0, first)
	_ = in.SetValue("app/latency", metricsMeta(), 0, 70)
	_ = in.SetValue("app/count", metricsMeta(), 0, 5)
	if err := tk.Run(context.Background(), &experiment.Env{Experiment: exp, Logger: discard(), SLOIndex: 1}); err != nil {
		t.Fatal(err)
	}
	var got []slo.Outcome
	for _, v := range in.SLOVerdicts {
		got = append(got, v.Versions[0].Outcome)
	}
	if diff := cmp.Diff([]slo.Outcome{slo.NotJudged, slo.Passed, slo.Failed}, got); diff != "" {
		t.Errorf("verdicts (-want +got):\n%s", diff)
	}
	want := &experiment.SLOResults{Upper: [][]bool{{false}, {true}}, Lower: [][]bool{{false}}}
	if diff := cmp.Diff(want, in.SLOsSatisfied); diff != "" {
		t.Errorf("SLOsSatisfied (-want +got):\n%s", diff)
	}
	if in.SLOs == nil || len(in.SLOs.Upper) != 2 || in.SLOs.Upper[0].Metric != "app/errors" || in.SLOs.Lower[0].Metric != "app/count" {
		t.Errorf("SLOs %+v", in.SLOs)
	}
}

// An SLO without a limit is bad input, named: decoded, its limit would read
// 0, which a lower SLO on a request count passes.
func TestAssessNeedsLimits(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		slos map[string]any
		ok   bool
	}{
		{"lower without limit", map[string]any{"lower": []any{map[string]any{"metric": "http/request-count"}}}, false},
		{"upper without limit", map[string]any{"upper": []any{map[string]any{"metric": "http/error-count", "onNoData": "ignore"}}}, false},
		{"second without limit", map[string]any{"upper": []any{map[string]any{"metric": "http/error-count", "limit": 0.0}, map[string]any{"metric": "http/latency-p99"}}}, false},
		{"limit 0", map[string]any{"upper": []any{map[string]any{"metric": "http/error-count", "limit": 0.0}}}, true},
		{"limit in capitals", map[string]any{"Upper": []any{map[string]any{"metric": "http/error-count", "Limit": 0.0}}}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newAssess(map[string]any{"SLOs": tt.slos})
			if tt.ok != (err == nil) {
				t.Fatalf("error %v, want ok %v", err, tt.ok)
			}
			if err != nil && (!errors.Is(err, inputs.ErrInvalid) || !strings.Contains(err.Error(), ".limit\" is missing")) {
				t.Errorf("error %v does not name the missing limit", err)
			}
		})
	}
}

// A percentile no histogram has (0, or above 100) is bad input, named,
// not an SLO that can only ever have no data.
func TestAssessPercentileRange(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		metric string
		ok     bool
	}{
		{"http/latency-p0", false},
		{"http/latency-p101", false},
		{"grpc/latency/p250", false},
		{"http/service-time-p0", false},
		{"http/latency-p100", true},
		{"http/latency-p99.9", true},
		{"app/build-p0", true}, // not a load histogram's percentile
	} {
		_, err := newAssess(map[string]any{"SLOs": map[string]any{"upper": []any{map[string]any{"metric": tt.metric, "limit": 1.0}}}})
		if tt.ok != (err == nil) {
			t.Errorf("%s: error %v, want ok %v", tt.metric, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), `field "SLOs.upper[0].metric"`) {
			t.Errorf("%s: error %v does not name the field", tt.metric, err)
		}
	}
}
