package experiment

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/slo"
)

// syntheticLoop fills insights as an http + assess loop would.
func syntheticLoop(t testing.TB, r *Result, rng *rand.Rand) {
	in, err := r.InitInsights(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	base := 5 + rng.Float64()*10
	for _, hist := range []string{"latency", "service-time"} {
		h := metrics.NewHDR()
		for range 2000 {
			h.Record(time.Duration(base * (0.5 + rng.ExpFloat64()) * float64(time.Millisecond)))
		}
		if err := in.SetHistogram("http/"+hist, metrics.Meta{Units: "msec", Type: metrics.Histogram}, 0, h); err != nil {
			t.Fatal(err)
		}
		for _, agg := range []string{"mean", "stddev", "min", "max", "p50", "p75", "p90", "p95", "p99", "p99.9"} {
			if err := in.SetValue("http/"+hist+"-"+agg, metrics.Meta{Units: "msec", Type: metrics.Gauge}, 0, base*rng.Float64()*3); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range []string{"request-count", "error-count", "error-rate"} {
		if err := in.SetValue("http/"+c, metrics.Meta{Type: metrics.Counter}, 0, rng.Float64()*1000); err != nil {
			t.Fatal(err)
		}
	}
	objs := []slo.Objective{{Metric: "http/latency-p99", Limit: 30, Direction: slo.Upper}, {Metric: "http/error-rate", Limit: 500, Direction: slo.Upper}, {Metric: "http/request-count", Limit: 100, Direction: slo.Lower}}
	in.SLOVerdicts = slo.Evaluate(objs, 1, in)
}

func TestHistoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 10,000 loops (about 15 s); runs without -short")
	}
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	r := NewResult(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), "v0.14")
	exp := &Experiment{Spec: make([]TaskSpec, 2), Result: r}
	start := r.StartTime
	const loops = 10000
	for i := range loops {
		r.NumLoops++
		// insights change every 100 loops: histograms are what makes entries large
		if i%100 == 0 {
			syntheticLoop(t, r, rng)
		}
		r.recordLoop(start.Add(time.Duration(i)*time.Minute), i == 42)
	}
	b, err := Encode(exp)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d loops: %d history entries, experiment %d bytes", loops, len(r.History), len(b))
	if len(b) >= 1<<20 {
		t.Errorf("experiment is %d bytes after %d loops, want under 1 MiB", len(b), loops)
	}
	covered, prev := 0, 0
	failures := 0
	for _, e := range r.History {
		covered += e.Covers()
		if e.Loop-e.Covers() != prev {
			t.Fatalf("entries are not contiguous: loop %d covering %d after loop %d", e.Loop, e.Covers(), prev)
		}
		prev = e.Loop
		failures += max(e.Failures, map[bool]int{true: 1}[e.Failure])
		if len(e.Values) != 1 || len(e.Values[0]) == 0 || len(e.Histograms) != 1 || len(e.SLOs) != 3 {
			t.Fatalf("entry for loop %d lacks data: %+v", e.Loop, e)
		}
	}
	if covered != loops || prev != loops || failures != 1 {
		t.Errorf("history covers %d loops up to %d with %d failures, want %d, %d, 1", covered, prev, failures, loops, loops)
	}
	if !r.History[0].StartTime.Equal(start) || r.History[len(r.History)-1].Covers() != 1 {
		t.Errorf("oldest entry starts %v; newest covers %d", r.History[0].StartTime, r.History[len(r.History)-1].Covers())
	}
	if len(r.History) > 4*HistoryTier {
		t.Errorf("%d entries", len(r.History))
	}
	// merged histograms hold every sample of the loops they cover
	var n int64
	for _, e := range r.History[:3] {
		h, err := metrics.DecodeHDR(e.Histograms[0]["http/latency"])
		if err != nil {
			t.Fatal(err)
		}
		n += h.Count()
	}
	if want := int64(2000 * (r.History[0].Covers() + r.History[1].Covers() + r.History[2].Covers())); n != want {
		t.Errorf("merged histograms hold %d samples, want %d", n, want)
	}
}

// The history records each loop's own outcome of an SLO, the one its values
// gave, not the one a window over earlier loops made of it: a failure in
// one loop fails the windows over it, and no window failure is counted
// again as a failure of the loops after it.
func TestHistoryRecordsLoopOutcomes(t *testing.T) {
	t.Parallel()
	r := &Result{NumLoops: 1}
	in, err := r.InitInsights(1, nil)
	if err != nil {
		t.Fatal(err)
	}
	in.SLOVerdicts = []slo.Verdict{{
		Objective: slo.Objective{Metric: "app/x", Limit: 1, Direction: slo.Upper},
		Versions:  []slo.Result{{Outcome: slo.Failed, Loop: slo.Passed, Reason: "not satisfied in loop 0"}},
	}}
	r.recordLoop(time.Now(), false)
	if got := r.History[0].SLOs[0][0]; got != slo.Passed {
		t.Errorf("recorded %s, want the loop's own outcome passed", got)
	}
}

// Merged entries count the loops in which an SLO held: an SLO with
// onNoData: ignore holds in a loop that had no data, as a window over the
// single entries says.
func TestHistoryMergedCountsIgnoredNoData(t *testing.T) {
	t.Parallel()
	r := &Result{}
	for range HistoryTier + HistoryMerge {
		r.NumLoops++
		in, err := r.InitInsights(1, nil)
		if err != nil {
			t.Fatal(err)
		}
		in.SLOVerdicts = []slo.Verdict{
			{Objective: slo.Objective{Metric: "app/x", Limit: 1, Direction: slo.Upper, OnNoData: slo.IgnoreNoData}, Versions: []slo.Result{{Outcome: slo.NoData, Ignored: true}}},
			{Objective: slo.Objective{Metric: "app/y", Limit: 1, Direction: slo.Upper}, Versions: []slo.Result{{Outcome: slo.NoData}}},
		}
		r.recordLoop(time.Now(), false)
	}
	m := r.History[0]
	if m.Covers() != HistoryMerge || m.SLOsPassed[0][0] != HistoryMerge || m.SLOsPassed[1][0] != 0 {
		t.Errorf("merged entry of %d loops counts %v held: want %d for the ignored no data, 0 for the other", m.Covers(), m.SLOsPassed, HistoryMerge)
	}
}

// Aligned matches a loop's SLO outcomes to the current SLOs by objective:
// a reordered spec reads each SLO's own outcomes, equal objectives pair in
// order, an SLO the loop did not declare has none, and an entry recorded
// before SLOKeys is read by position.
func TestAligned(t *testing.T) {
	t.Parallel()
	const a, b, c = "app/a <= 1", "app/b <= 2", "app/c <= 3"
	entry := LoopSummary{Loop: 1, SLOKeys: []string{a, b, a}, SLOs: [][]slo.Outcome{{slo.Passed}, {slo.Failed}, {slo.NoData}}}
	old := LoopSummary{Loop: 1, SLOs: [][]slo.Outcome{{slo.Passed}, {slo.Failed}}}
	merged := LoopSummary{Loop: 20, Loops: 10, SLOKeys: []string{a, b}, SLOs: [][]slo.Outcome{{slo.Passed}, {slo.Failed}}, SLOsPassed: [][]int{{10}, {7}}}
	for _, tt := range []struct {
		name       string
		e          LoopSummary
		keys       []string
		want       [][]slo.Outcome
		wantPassed [][]int
		undeclared []bool
	}{
		{"same spec", entry, []string{a, b, a}, [][]slo.Outcome{{slo.Passed}, {slo.Failed}, {slo.NoData}}, nil, []bool{false, false, false}},
		{"reordered", entry, []string{b, a, a}, [][]slo.Outcome{{slo.Failed}, {slo.Passed}, {slo.NoData}}, nil, []bool{false, false, false}},
		{"one changed", entry, []string{a, c}, [][]slo.Outcome{{slo.Passed}, nil}, nil, []bool{false, true}},
		{"one more equal than declared", entry, []string{a, a, a}, [][]slo.Outcome{{slo.Passed}, {slo.NoData}, nil}, nil, []bool{false, false, true}},
		{"before SLOKeys: by position", old, []string{b, a, c}, [][]slo.Outcome{{slo.Passed}, {slo.Failed}, nil}, nil, []bool{false, false, false}},
		{"merged", merged, []string{b, c, a}, [][]slo.Outcome{{slo.Failed}, nil, {slo.Passed}}, [][]int{{7}, nil, {10}}, []bool{false, true, false}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, passed, undeclared := tt.e.Aligned(tt.keys)
			if !slices.EqualFunc(got, tt.want, slices.Equal) || !slices.EqualFunc(passed, tt.wantPassed, slices.Equal) || !slices.Equal(undeclared, tt.undeclared) {
				t.Errorf("outcomes %v passed %v undeclared %v, want %v %v %v", got, passed, undeclared, tt.want, tt.wantPassed, tt.undeclared)
			}
		})
	}
}

// Loops merged across a change of the spec's SLOs count, for each SLO of
// the last of them, the loops in which that SLO held, matched by
// objective: SLOs swapped between loops are counted as themselves, and a
// loop that did not declare an SLO counts as not having passed it.
func TestHistoryMergedAcrossSpecChange(t *testing.T) {
	t.Parallel()
	x := slo.Objective{Metric: "app/x", Limit: 1, Direction: slo.Upper}
	y := slo.Objective{Metric: "app/y", Limit: 1, Direction: slo.Upper}
	z := slo.Objective{Metric: "app/z", Limit: 1, Direction: slo.Upper}
	r := &Result{}
	for loop := range HistoryTier + HistoryMerge {
		r.NumLoops++
		in, err := r.InitInsights(1, nil)
		if err != nil {
			t.Fatal(err)
		}
		// x always passes and y always fails; the spec lists them in
		// another order from loop 5, and adds z (passing) from loop 8
		pass, fail := []slo.Result{{Outcome: slo.Passed}}, []slo.Result{{Outcome: slo.Failed}}
		in.SLOVerdicts = []slo.Verdict{{Objective: x, Versions: pass}, {Objective: y, Versions: fail}}
		if loop >= 4 {
			in.SLOVerdicts = []slo.Verdict{{Objective: y, Versions: fail}, {Objective: x, Versions: pass}}
		}
		if loop >= 7 {
			in.SLOVerdicts = append(in.SLOVerdicts, slo.Verdict{Objective: z, Versions: pass})
		}
		r.recordLoop(time.Now(), false)
	}
	m := r.History[0]
	want := [][]int{{0}, {HistoryMerge}, {HistoryMerge - 7}} // y, x, z: the keys of the group's last loop
	if m.Covers() != HistoryMerge || !slices.Equal(m.SLOKeys, []string{y.String(), x.String(), z.String()}) || !slices.EqualFunc(m.SLOsPassed, want, slices.Equal) {
		t.Errorf("merged entry of %d loops: keys %v passed %v, want %v", m.Covers(), m.SLOKeys, m.SLOsPassed, want)
	}
}
