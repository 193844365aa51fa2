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

// A window counts a loop that did not judge the SLO (its outcome recorded
// as notJudged, or no outcome at all) as not passed, whatever values the
// loop kept; a merged entry must have passed in each loop it covers.
func TestAssessWindowNeedsFreshJudgements(t *testing.T) {
	t.Parallel()
	ok := []map[string]float64{{"app/latency": 50}}
	for _, tt := range []struct {
		name    string
		history []experiment.LoopSummary
		outcome slo.Outcome
		reason  string
	}{
		{"all judged", []experiment.LoopSummary{{Loop: 1, Values: ok, SLOs: [][]slo.Outcome{{slo.Passed}}}, {Loop: 2, Values: ok, SLOs: [][]slo.Outcome{{slo.Passed}}}}, slo.Passed, ""},
		{"not judged", []experiment.LoopSummary{{Loop: 1, Values: ok, SLOs: [][]slo.Outcome{{slo.Passed}}}, {Loop: 2, Values: ok, SLOs: [][]slo.Outcome{{slo.NotJudged}}}},
			slo.Failed, "not judged in loop 2 (no data): a loop without a fresh judgement does not count as passed, in the window of 3 loops"},
		{"no outcome", []experiment.LoopSummary{{Loop: 1, Values: ok, SLOs: [][]slo.Outcome{{slo.Passed}}}, {Loop: 2, Values: ok}}, slo.Failed, "not judged in loop 2 (no data)"},
		{"no values", []experiment.LoopSummary{{Loop: 1, Values: ok, SLOs: [][]slo.Outcome{{slo.Passed}}}, {Loop: 2, SLOs: [][]slo.Outcome{{slo.Passed}}}}, slo.NoData, "not satisfied in loop 2 of the window of 3 loops: no value was recorded for app/latency"},
		{"merged, one loop failed", []experiment.LoopSummary{{Loop: 20, Loops: 10, Values: ok, SLOsPassed: [][]int{{9}}}, {Loop: 21, Values: ok, SLOs: [][]slo.Outcome{{slo.Passed}}}}, slo.Failed, "passed in 9 of the 10 loops ending at loop 20, in the window of 3 loops"},
		{"merged, all passed", []experiment.LoopSummary{{Loop: 20, Loops: 10, Values: ok, SLOsPassed: [][]int{{10}}}, {Loop: 21, Values: ok, SLOs: [][]slo.Outcome{{slo.Passed}}}}, slo.Passed, ""},
	} {
		tk, err := newAssess(map[string]any{"window": 3.0, "SLOs": map[string]any{"upper": []any{map[string]any{"metric": "app/latency", "limit": 100.0}}}})
		if err != nil {
			t.Fatal(err)
		}
		exp := &experiment.Experiment{Result: &experiment.Result{NumLoops: 3, History: tt.history}}
		in, _ := exp.Result.InitInsights(1, nil)
		_ = in.SetValue("app/latency", metricsMeta(), 0, 70)
		if err := tk.Run(context.Background(), &experiment.Env{Experiment: exp, Logger: discard()}); err != nil {
			t.Fatal(err)
		}
		r := in.SLOVerdicts[0].Versions[0]
		if r.Outcome != tt.outcome || !strings.Contains(r.Reason, tt.reason) {
			t.Errorf("%s: %s (%s), want %s (%s)", tt.name, r.Outcome, r.Reason, tt.outcome, tt.reason)
		}
	}
}

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
