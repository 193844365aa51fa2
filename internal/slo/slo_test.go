package slo

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type values map[string][]float64 // metric -> value per version (NaN = missing)

func (v values) Value(m string, i int) (float64, bool) {
	vs, ok := v[m]
	if !ok || i >= len(vs) || math.IsNaN(vs[i]) {
		return 0, false
	}
	return vs[i], true
}

func (v values) Invalid(m string, _ int) string {
	if m == "bad/latency" {
		return "invalid run: generator saturated"
	}
	return ""
}

func ptr(f float64) *float64 { return &f }

func TestEvaluate(t *testing.T) {
	t.Parallel()
	src := values{
		"http/latency-mean":  {20, 80},
		"http/request-count": {100, math.NaN()},
		"bad/latency":        {1, 1},
	}
	objs := []Objective{
		{Metric: "http/latency-mean", Limit: 50, Direction: Upper},
		{Metric: "http/request-count", Limit: 100, Direction: Lower},
		{Metric: "http/missing", Limit: 1, Direction: Upper},
		{Metric: "bad/latency", Limit: 5, Direction: Upper},
	}
	got := Evaluate(objs, 2, src)
	want := []Verdict{
		{Objective: objs[0], Versions: []Result{{Value: ptr(20), Outcome: Passed}, {Value: ptr(80), Outcome: Failed, Reason: "value 80 is above the limit 50"}}},
		{Objective: objs[1], Versions: []Result{{Value: ptr(100), Outcome: Passed}, {Outcome: NoData, Reason: "no value was recorded for http/request-count"}}},
		{Objective: objs[2], Versions: []Result{{Outcome: NoData, Reason: "no value was recorded for http/missing"}, {Outcome: NoData, Reason: "no value was recorded for http/missing"}}},
		{Objective: objs[3], Versions: []Result{{Value: ptr(1), Outcome: Invalid, Reason: "invalid run: generator saturated"}, {Value: ptr(1), Outcome: Invalid, Reason: "invalid run: generator saturated"}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Evaluate (-want +got):\n%s", diff)
	}
	if Satisfied(got) || !Satisfied(got[:0]) || Satisfied(got[:1]) {
		t.Error("Satisfied is wrong")
	}
	if !Satisfied(Evaluate(objs[:1], 1, src)) {
		t.Error("a passing objective is not satisfied")
	}
}

func TestObjectiveString(t *testing.T) {
	t.Parallel()
	if s := (Objective{Metric: "http/latency-mean", Limit: 50, Direction: Upper}).Format("msec"); s != "http/latency-mean (msec) <= 50" {
		t.Errorf("upper: %q", s)
	}
	if s := (Objective{Metric: "p/request-count", Limit: 1.5, Direction: Lower}).String(); s != "1.5 <= p/request-count" {
		t.Errorf("lower: %q", s)
	}
}
