package experiment_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/slo"
)

// judgeTask is a fake assess: it judges "fake/value <= limit" on the
// loop's values.
type judgeTask struct{ objs []slo.Objective }

func (j judgeTask) Objectives() []slo.Objective { return j.objs }

func (j judgeTask) Run(_ context.Context, env *experiment.Env) error {
	n := 1 // as assess: the versions measured, or one before any was
	if in := env.Experiment.Result.Insights; in != nil && in.NumVersions > 0 {
		n = in.NumVersions
	}
	in, err := env.Experiment.Result.InitInsights(n, nil)
	if err != nil {
		return err
	}
	in.SetVerdicts(env.SLOIndex, slo.Evaluate(j.objs, in.NumVersions, in))
	return nil
}

func judgeRegistry() experiment.Registry {
	reg := registry(nil)
	reg["judge"] = func(with map[string]any) (experiment.Task, error) {
		var in struct {
			Limit float64 `json:"limit"`
		}
		if err := inputs.Decode(with, &in); err != nil {
			return nil, err
		}
		return judgeTask{objs: []slo.Objective{{Metric: "fake/value", Limit: in.Limit, Direction: slo.Upper}}}, nil
	}
	return reg
}

func outcomes(e *experiment.Experiment) [][]slo.Outcome {
	var out [][]slo.Outcome
	for _, v := range e.Result.Insights.SLOVerdicts {
		var row []slo.Outcome
		for _, r := range v.Versions {
			row = append(row, r.Outcome)
		}
		out = append(out, row)
	}
	return out
}

// An SLO the latest loop did not judge is not judged, with the reason, and
// -c slos does not hold: whether the judging task was skipped, a task before
// it failed, or it has not run yet. A loop that failed records its SLOs as
// not judged in the history and copies no values of the loop before.
func TestUnjudgedSLOs(t *testing.T) {
	t.Parallel()
	doc := `
spec:
- if: Result.NumLoops != 2
  task: record
  with: {value: 3}
- if: Result.NumLoops == 2
  task: fail
- if: Result.NumLoops != 3
  task: judge
  with: {limit: 5}
- task: judge
  with: {limit: 1}
`
	r := &experiment.Runner{Store: newStore(t, doc), Registry: judgeRegistry()}
	exp, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Loop 1: both judged; the second fails (3 > 1).
	if diff := cmp.Diff([][]slo.Outcome{{slo.Passed}, {slo.Failed}}, outcomes(exp)); diff != "" {
		t.Errorf("loop 1 (-want +got):\n%s", diff)
	}
	r.ReuseResult = true
	exp, err = r.Run(context.Background())
	if !errors.Is(err, experiment.ErrFailed) {
		t.Fatalf("loop 2: %v, want a failure", err)
	}
	// Loop 2: task 2 failed; nothing after it is judged.
	if diff := cmp.Diff([][]slo.Outcome{{slo.NotJudged}, {slo.NotJudged}}, outcomes(exp)); diff != "" {
		t.Errorf("loop 2 (-want +got):\n%s", diff)
	}
	for _, v := range exp.Result.Insights.SLOVerdicts {
		if want := "not judged in loop 2: task 2 (fail) failed: boom"; v.Versions[0].Reason != want {
			t.Errorf("loop 2 reason %q, want %q", v.Versions[0].Reason, want)
		}
	}
	if got := exp.Result.Insights.NonHistMetricValues[0]; len(got) != 0 {
		t.Errorf("loop 2 kept the values of loop 1: %v", got)
	}
	h := exp.Result.History
	if len(h) != 2 || len(h[1].Values) != 1 || len(h[1].Values[0]) != 0 {
		t.Errorf("history of loop 2 copies values: %+v", h)
	}
	if diff := cmp.Diff([][]slo.Outcome{{slo.NotJudged}, {slo.NotJudged}}, h[1].SLOs); diff != "" {
		t.Errorf("history of loop 2 (-want +got):\n%s", diff)
	}
	msgs := exp.Check([]experiment.Assertion{experiment.AssertSLOs})
	if len(msgs) != 2 || !strings.Contains(msgs[0], "fake/value <= 5 is not satisfied by version 0: not judged (not judged in loop 2: task 2 (fail) failed: boom)") {
		t.Errorf("check after loop 2: %q", msgs)
	}

	// Loop 3: the first judge is skipped by its if:; the second is judged.
	exp, err = r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]slo.Outcome{{slo.NotJudged}, {slo.Failed}}, outcomes(exp)); diff != "" {
		t.Errorf("loop 3 (-want +got):\n%s", diff)
	}
	got := exp.Result.Insights.SLOVerdicts[0].Versions[0].Reason
	if want := `skipped: task 3 (judge) did not run in loop 3 because its if: condition "Result.NumLoops != 3" was false`; got != want {
		t.Errorf("loop 3 reason %q, want %q", got, want)
	}
	if sat := exp.Result.Insights.SLOsSatisfied; sat == nil || cmp.Diff([][]bool{{false}, {false}}, sat.Upper) != "" {
		t.Errorf("SLOsSatisfied %+v", sat)
	}
	if exp.SLOs() {
		t.Error("SLOs() holds with an SLO not judged")
	}
}

// -c slos is not satisfied without a judgement: before the first loop,
// while the judging task has not run, and when no SLO is declared.
func TestCheckSLOsNeedsJudgement(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		exp  *experiment.Experiment
		want string
	}{
		{"not started", &experiment.Experiment{}, "slos: the experiment has not started: its SLOs are not judged yet"},
		{"no SLO", &experiment.Experiment{Result: &experiment.Result{NumLoops: 1, Insights: &experiment.Insights{NumVersions: 1}}}, "slos: the experiment declares no SLO, so there is nothing to satisfy"},
		{"no insights", &experiment.Experiment{Result: &experiment.Result{NumLoops: 1}}, "slos: the experiment declares no SLO"},
		{"not run yet", &experiment.Experiment{Result: &experiment.Result{NumLoops: 1, Insights: &experiment.Insights{NumVersions: 1,
			SLOVerdicts: slo.NotJudgedVerdicts([]slo.Objective{{Metric: "http/error-count", Direction: slo.Upper}}, 1, "not run yet")}}},
			"slos: SLO http/error-count <= 0 is not satisfied by version 0: not judged (not run yet)"},
		{"the original's matrix", &experiment.Experiment{Result: &experiment.Result{NumLoops: 1, Insights: &experiment.Insights{NumVersions: 2,
			NonHistMetricValues: []map[string][]float64{{"http/latency-mean": {10}}, {"http/latency-mean": {140}}},
			SLOs:                &experiment.SLOLimits{Upper: []experiment.SLO{{Metric: "http/latency-mean", Limit: 100}}},
			SLOsSatisfied:       &experiment.SLOResults{Upper: [][]bool{{true, false}}}}}},
			"slos: SLO http/latency-mean <= 100 is not satisfied by version 1 (SLOsSatisfied): value 140"},
	} {
		got := tt.exp.Check([]experiment.Assertion{experiment.AssertSLOs})
		if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

// Finished is the end of the latest loop, not a failure of an earlier one.
func TestFinished(t *testing.T) {
	t.Parallel()
	running := &experiment.Experiment{Spec: make([]experiment.TaskSpec, 2), Result: &experiment.Result{NumLoops: 2, Failure: true,
		Tasks: []experiment.TaskStatus{{State: experiment.Completed}, {State: experiment.Running}}}}
	if running.Finished() {
		t.Error("a running loop after a failed one is finished")
	}
	running.Result.Tasks[1].State = experiment.Failed
	if !running.Finished() {
		t.Error("a loop whose task failed is not finished")
	}
	if (&experiment.Experiment{}).Finished() {
		t.Error("an experiment that has not started is finished")
	}
}

// twoVersions records a value for each of two versions.
type twoVersions struct{}

func (twoVersions) Run(_ context.Context, env *experiment.Env) error {
	in, err := env.Experiment.Result.InitInsights(2, nil)
	if err != nil {
		return err
	}
	for v := range 2 {
		if err := in.SetValue("fake/value", metrics.Meta{Type: metrics.Gauge}, v, 1); err != nil {
			return err
		}
	}
	return nil
}

// An SLO not judged in the first loop of an experiment with two versions
// (its assess skipped by if:) is not judged for each of the two, not for
// one: reports and assert list every version.
func TestUnjudgedSLOsOfEachVersion(t *testing.T) {
	t.Parallel()
	doc := `
spec:
- task: two
- if: Result.NumLoops >= 3
  task: judge
  with: {limit: 5}
`
	reg := judgeRegistry()
	reg["two"] = func(map[string]any) (experiment.Task, error) { return twoVersions{}, nil }
	exp, err := (&experiment.Runner{Store: newStore(t, doc), Registry: reg}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]slo.Outcome{{slo.NotJudged, slo.NotJudged}}, outcomes(exp)); diff != "" {
		t.Errorf("loop 1 (-want +got):\n%s", diff)
	}
}

// A task that measures two versions, skipped by if: in the first loop,
// measures them in the next, though that loop's judge saw one version
// (with nothing measured); a task measuring other versions than one that
// measured in the same loop is an error.
func TestVersionsMeasuredAfterASkip(t *testing.T) {
	t.Parallel()
	doc := `
spec:
- if: Result.NumLoops >= 2
  task: two
- task: judge
  with: {limit: 5}
`
	reg := judgeRegistry()
	reg["two"] = func(map[string]any) (experiment.Task, error) { return twoVersions{}, nil }
	st := newStore(t, doc)
	r := &experiment.Runner{Store: st, Registry: reg}
	exp, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([][]slo.Outcome{{slo.NoData}}, outcomes(exp)); diff != "" {
		t.Errorf("loop 1 (-want +got):\n%s", diff)
	}
	r.ReuseResult = true
	if exp, err = r.Run(context.Background()); err != nil {
		t.Fatalf("loop 2: %v", err)
	}
	if diff := cmp.Diff([][]slo.Outcome{{slo.Passed, slo.Passed}}, outcomes(exp)); diff != "" {
		t.Errorf("loop 2 (-want +got):\n%s", diff)
	}
	in := exp.Result.Insights
	if _, err := exp.Result.InitInsights(3, nil); err == nil || in.NumVersions != 2 {
		t.Errorf("three versions after two were measured: %v, %d versions", err, in.NumVersions)
	}
}

// An experiment that declares no SLO does not satisfy its SLOs: SLOs()
// (the JSON report's slosSatisfied) says what assert -c slos says.
func TestNoSLOIsNotSatisfied(t *testing.T) {
	t.Parallel()
	exp := &experiment.Experiment{Result: &experiment.Result{NumLoops: 1, Insights: &experiment.Insights{NumVersions: 1}}}
	if exp.SLOs() {
		t.Error("SLOs() is true for an experiment without SLOs")
	}
	if failures := exp.Check([]experiment.Assertion{experiment.AssertSLOs}); len(failures) == 0 {
		t.Error("assert -c slos holds for an experiment without SLOs")
	}
}

// An SLO on a metric its provider does not record, when the provider
// records one a letter or two apart, is an error naming the likely metric:
// onNoData: ignore must not pass a misspelt SLO forever. So is one whose
// provider records nothing while a provider a letter or two apart records
// metrics. A metric no recorded name is close to stays no data.
func TestMisspeltMetricIsAnError(t *testing.T) {
	t.Parallel()
	res := &experiment.Result{}
	in, err := res.InitInsights(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.SetValue("r/error-rate", metrics.Meta{Type: metrics.Gauge}, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := in.SetValue("cm/latency", metrics.Meta{Type: metrics.Gauge}, 0, 0); err != nil {
		t.Fatal(err)
	}
	objs := []slo.Objective{
		{Metric: "r/eror-rate", Limit: 1, Direction: slo.Upper, OnNoData: slo.IgnoreNoData},
		// a misspelt provider, which records nothing at all
		{Metric: "cn/latency", Limit: 1, Direction: slo.Upper, OnNoData: slo.IgnoreNoData},
		{Metric: "r/throughput", Limit: 1, Direction: slo.Upper, OnNoData: slo.IgnoreNoData},
		{Metric: "q/eror-rate", Limit: 1, Direction: slo.Upper, OnNoData: slo.IgnoreNoData},
		{Metric: "orders/latency", Limit: 1, Direction: slo.Upper, OnNoData: slo.IgnoreNoData},
	}
	got := slo.Evaluate(objs, 1, in)
	if r := got[0].Versions[0]; r.Outcome != slo.Error || r.Reason != "provider r records no metric eror-rate: did you mean r/error-rate?" {
		t.Errorf("misspelt: %s (%s)", r.Outcome, r.Reason)
	}
	if r := got[1].Versions[0]; r.Outcome != slo.Error || r.Reason != "no task records metrics of provider cn: did you mean cm/latency?" {
		t.Errorf("misspelt provider: %s (%s)", r.Outcome, r.Reason)
	}
	for _, v := range got[2:] {
		if r := v.Versions[0]; r.Outcome != slo.NoData || !r.Ignored {
			t.Errorf("%s: %s (%s), want ignored no data", v.Metric, r.Outcome, r.Reason)
		}
	}
}
