package slo

import (
	"math"
	"strings"
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

func (v values) Missing(m string, i int) (string, bool) {
	switch m {
	case "prom/down":
		return "query failed: connection refused", true
	case "prom/empty":
		return "the query returned no value", false
	}
	return "", false
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
	if Satisfied(got) || Satisfied(got[:0]) || Satisfied(got[:1]) || Satisfied([]Verdict{{Objective: objs[0]}}) {
		t.Error("Satisfied is wrong")
	}
	if !Satisfied(Evaluate(objs[:1], 1, src)) {
		t.Error("a passing objective is not satisfied")
	}
}

func TestNoDataPolicy(t *testing.T) {
	t.Parallel()
	src := values{"prom/up": {1}}
	tests := []struct {
		name      string
		obj       Objective
		want      Result
		satisfied bool
	}{
		{"no data fails by default", Objective{Metric: "prom/empty", Limit: 1, Direction: Upper},
			Result{Outcome: NoData, Reason: "the query returned no value"}, false},
		{"no data fails explicitly", Objective{Metric: "prom/empty", Limit: 1, Direction: Upper, OnNoData: FailOnNoData},
			Result{Outcome: NoData, Reason: "the query returned no value"}, false},
		{"no data ignored", Objective{Metric: "prom/empty", Limit: 1, Direction: Upper, OnNoData: IgnoreNoData},
			Result{Outcome: NoData, Reason: "the query returned no value", Ignored: true}, true},
		{"unknown metric ignored", Objective{Metric: "prom/other", Limit: 1, Direction: Lower, OnNoData: IgnoreNoData},
			Result{Outcome: NoData, Reason: "no value was recorded for prom/other", Ignored: true}, true},
		{"error is never ignored", Objective{Metric: "prom/down", Limit: 1, Direction: Upper, OnNoData: IgnoreNoData},
			Result{Outcome: Error, Reason: "query failed: connection refused"}, false},
		{"a value is judged whatever the policy", Objective{Metric: "prom/up", Limit: 0, Direction: Upper, OnNoData: IgnoreNoData},
			Result{Value: ptr(1), Outcome: Failed, Reason: "value 1 is above the limit 0"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Evaluate([]Objective{tt.obj}, 1, src)
			if diff := cmp.Diff(tt.want, got[0].Versions[0]); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if Satisfied(got) != tt.satisfied {
				t.Errorf("Satisfied = %v, want %v", Satisfied(got), tt.satisfied)
			}
		})
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

// A value shown beside its verdict is never rounded to the limit it
// missed: the reason and the text report say 0.1000001, not 0.1.
func TestValueBesideLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v, limit float64
		short    string
		want     string
	}{
		{0.1000001, 0.1, "0.1", "0.1000001"},
		{0.0504, 0.05, "0.05", "0.0504"},
		{0.05, 0.05, "0.05", "0.05"},
		{0.0712, 0.05, "0.07", "0.07"},
	} {
		if got := Beside(tt.v, tt.limit, tt.short); got != tt.want {
			t.Errorf("Beside(%v, %v, %q) = %q, want %q", tt.v, tt.limit, tt.short, got, tt.want)
		}
	}
	v := Evaluate([]Objective{{Metric: "m", Limit: 0.1, Direction: Upper}}, 1, values{"m": {0.1000001}})[0].Versions[0]
	if v.Outcome != Failed || !strings.Contains(v.Reason, "value 0.1000001 is above the limit 0.1") {
		t.Errorf("%s: %s, want failed with the value unrounded", v.Outcome, v.Reason)
	}
}
