package report_test

import (
	"fmt"
	"io"
	"math"
	"testing"
	"time"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/report"
	"iter8.tools/iter8/internal/slo"
)

// largeExperiment is a 10-version, 100-loop experiment with three load
// providers (a mix and two endpoints), latency and service-time histograms
// for each, five SLOs and a full history.
func largeExperiment(tb testing.TB) *experiment.Experiment {
	tb.Helper()
	const versions, loops = 10, 100
	task := "http"
	exp := &experiment.Experiment{Spec: []experiment.TaskSpec{{Task: &task, With: map[string]any{"url": "http://127.0.0.1:8080/"}}}}
	start := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	res := experiment.NewResult(start, "v0.14.0")
	exp.Result = res
	var names []experiment.VersionInfo
	for v := range versions {
		names = append(names, experiment.VersionInfo{Version: fmt.Sprintf("v%d", v+1)})
	}
	in, err := res.InitInsights(versions, names)
	if err != nil {
		tb.Fatal(err)
	}
	ms := metrics.Meta{Units: metrics.Msec, Type: metrics.Gauge}
	for _, provider := range []string{"http", "http-list", "http-buy"} {
		for v := range versions {
			for _, kind := range []string{"latency", "service-time"} {
				h := metrics.NewHDR()
				for i := range 20000 {
					// a log-normal-ish spread, slower for later versions
					x := float64(i%1000)/1000*6 - 3
					d := time.Duration(float64(time.Millisecond) * (2 + float64(v)) * math.Exp(0.6*x))
					h.Record(d)
				}
				name := provider + "/" + kind
				if err := in.SetHistogram(name, metrics.Meta{Description: "histogram of " + kind, Units: metrics.Msec, Type: metrics.Histogram}, v, h); err != nil {
					tb.Fatal(err)
				}
				for _, p := range []float64{50, 75, 90, 95, 99, 99.9} {
					m := ms
					m.Description = "percentile"
					if err := in.SetValue(fmt.Sprintf("%s-p%s", name, metrics.FormatPercentile(p)), m, v, h.PercentileMs(p)); err != nil {
						tb.Fatal(err)
					}
				}
				m := ms
				m.Description = "mean"
				if err := in.SetValue(name+"-mean", m, v, h.MeanMs()); err != nil {
					tb.Fatal(err)
				}
			}
			if err := in.SetValue(provider+"/request-count", metrics.Meta{Description: "requests", Type: metrics.Counter}, v, 20000); err != nil {
				tb.Fatal(err)
			}
			if err := in.SetValue(provider+"/error-rate", metrics.Meta{Description: "error rate", Type: metrics.Gauge}, v, 0.001*float64(v)); err != nil {
				tb.Fatal(err)
			}
		}
		if in.Load == nil {
			in.Load = map[string]*experiment.LoadStats{}
		}
		in.Load[provider] = &experiment.LoadStats{Mode: "open", Protocol: "HTTP/1.1", Requests: 20000, Errors: 20, DurationSeconds: 100,
			Codes: map[string]int64{"200": 19980, "503": 10, "timeout": 10}, IntendedRate: 200, AchievedRate: 199.9}
	}
	objectives := []slo.Objective{
		{Metric: "http/latency-mean", Limit: 10, Direction: slo.Upper},
		{Metric: "http/latency-p99", Limit: 50, Direction: slo.Upper},
		{Metric: "http-list/latency-p99.9", Limit: 80, Direction: slo.Upper},
		{Metric: "http/error-rate", Limit: 0.005, Direction: slo.Upper},
		{Metric: "http/request-count", Limit: 1000, Direction: slo.Lower},
	}
	in.SLOVerdicts = slo.Evaluate(objectives, versions, in)
	for l := range loops {
		s := experiment.LoopSummary{Loop: l + 1, StartTime: start.Add(time.Duration(l) * time.Hour)}
		for v := range versions {
			vals := map[string]float64{}
			for name, vs := range in.NonHistMetricValues[v] {
				vals[name] = vs[0] * (1 + 0.3*math.Sin(float64(l)/7))
			}
			s.Values = append(s.Values, vals)
		}
		for _, vd := range in.SLOVerdicts {
			row := make([]slo.Outcome, versions)
			for v := range versions {
				row[v] = vd.Versions[v].Outcome
			}
			s.SLOs = append(s.SLOs, row)
		}
		res.History = append(res.History, s)
	}
	res.NumLoops, res.NumCompletedTasks = loops, 1
	return exp
}

func BenchmarkHTMLLarge(b *testing.B) {
	exp := largeExperiment(b)
	b.ReportAllocs()
	for b.Loop() {
		if err := report.HTML(io.Discard, exp, report.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// A 10-version, 100-loop experiment renders to HTML in under a second (the
// best of three runs, so a busy machine does not decide).
func TestLargeExperimentRendersInUnderASecond(t *testing.T) {
	if testing.Short() {
		t.Skip("a timing test; runs without -short")
	}
	t.Parallel()
	exp := largeExperiment(t)
	best := time.Hour
	var size int
	for range 3 {
		w := &countWriter{}
		start := time.Now()
		if err := report.HTML(w, exp, report.Options{}); err != nil {
			t.Fatal(err)
		}
		best = min(best, time.Since(start))
		size = w.n
	}
	t.Logf("10 versions, 100 loops: %v, %d KB", best, size/1024)
	if limit := raceSlowdown * time.Second; best > limit {
		t.Errorf("rendering took %v, want under %v", best, limit)
	}
}

type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) {
	w.n += len(p)
	return len(p), nil
}
