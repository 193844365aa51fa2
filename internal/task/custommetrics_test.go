package task

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/provider/providertest"
	"iter8.tools/iter8/internal/report"
	"iter8.tools/iter8/internal/slo"
)

// served is what the exporter serves for one version: a request rate, a
// fraction of errors, and a latency distribution (cumulative fraction of
// requests at or under each bucket bound, in seconds) with its mean.
type served struct {
	version   string
	rate      float64
	errorRate float64
	bounds    []float64
	cumulated []float64
	meanSec   float64
}

var versions = []served{
	// p95 falls in (0.025, 0.05]: 0.025 + 0.025*(0.95-0.90)/(0.98-0.90) = 40.625 ms
	{"v1", 100, 0.05, []float64{0.005, 0.01, 0.025, 0.05, 0.1}, []float64{0.10, 0.55, 0.90, 0.98, 1}, 0.015},
	// p95 falls in (0.05, 0.1]: 0.05 + 0.05*(0.95-0.90)/(1-0.90) = 75 ms
	{"v2", 50, 0.01, []float64{0.005, 0.01, 0.025, 0.05, 0.1}, []float64{0.20, 0.60, 0.80, 0.90, 1}, 0.020},
}

var wantP95 = map[string]float64{"v1": 40.625, "v2": 75}

func g(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// exposition renders every version's counters and histograms, as a generic
// service, Istio and Knative's queue-proxy would, after t seconds of
// traffic (every value is linear in t, so rates and ratios are exact).
func exposition(t float64) string {
	var b strings.Builder
	for _, v := range versions {
		total := v.rate * t
		errs := total * v.errorRate
		type family struct {
			counter, hist string
			labels        func(code string) string
			scale         float64 // bucket bounds and sums: seconds or msec
		}
		fams := []family{
			{"http_requests_total", "http_request_duration_seconds",
				func(code string) string { return fmt.Sprintf(`version=%q%s`, v.version, code) }, 1},
			{"istio_requests_total", "istio_request_duration_milliseconds",
				func(code string) string {
					return fmt.Sprintf(`reporter="destination",destination_app="shop",destination_version=%q%s`, v.version, code)
				}, 1000},
			{"revision_request_count", "revision_request_latencies",
				func(code string) string {
					return fmt.Sprintf(`namespace_name="default",service_name="shop",revision_name="shop-%s"%s`, v.version, code)
				}, 1000},
		}
		for _, f := range fams {
			ok, bad := `,code="200"`, `,code="500"`
			switch f.counter {
			case "istio_requests_total":
				ok, bad = `,response_code="200"`, `,response_code="500"`
			case "revision_request_count":
				ok, bad = `,response_code="200",response_code_class="2xx"`, `,response_code="500",response_code_class="5xx"`
			}
			fmt.Fprintf(&b, "%s{%s} %s\n%s{%s} %s\n", f.counter, f.labels(ok), g(total-errs), f.counter, f.labels(bad), g(errs))
			for i, le := range v.bounds {
				fmt.Fprintf(&b, "%s_bucket{%s,le=%q} %s\n", f.hist, f.labels(""), g(le*f.scale), g(total*v.cumulated[i]))
			}
			fmt.Fprintf(&b, "%s_bucket{%s,le=\"+Inf\"} %s\n", f.hist, f.labels(""), g(total))
			fmt.Fprintf(&b, "%s_sum{%s} %s\n%s_count{%s} %s\n", f.hist, f.labels(""), g(total*v.meanSec*f.scale), f.hist, f.labels(""), g(total))
		}
	}
	return b.String()
}

func within(got, want, rel float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)
}

// The built-in templates against a real Prometheus scraping an exporter that
// serves known counters and histograms for two versions: rates, error rates,
// means and p95 from histogram_quantile are what was served, within
// Prometheus's own precision.
func TestCustomMetricsPrometheus(t *testing.T) {
	t.Parallel()
	start := time.Now().Add(-time.Second)
	exp := providertest.NewExporter(t, func(e time.Duration) string { return exposition(e.Seconds()) })
	prom := providertest.StartPrometheus(t, time.Second, exp.Target())
	// Enough samples to fill the 5s window: its first sample is then at most
	// one scrape interval from the window's start, so the linear counters
	// extrapolate exactly.
	exp.WaitScrapes(t, 8, 60*time.Second)
	prom.WaitFor(t, `count_over_time(http_requests_total{version="v2",code="500"}[1m])`, 8, 30*time.Second)

	versionValues := []any{}
	for _, v := range versions {
		versionValues = append(versionValues, map[string]any{
			"versionName": v.version,
			"requests":    fmt.Sprintf(`http_requests_total{version=%q}`, v.version),
			"errors":      fmt.Sprintf(`http_requests_total{version=%q,code=~"5.."}`, v.version),
			"latency":     fmt.Sprintf(`http_request_duration_seconds{version=%q}`, v.version),
			"labels":      map[string]any{"destination_version": v.version},
			"revision":    "shop-" + v.version,
		})
	}
	tk, err := newCustomMetrics(map[string]any{
		"templates": map[string]any{"prom": "prometheus", "istio": "istio-prom", "kn": "knative"},
		"values": map[string]any{
			"prometheusURL":      prom.URL,
			"istioPromURL":       prom.URL + "/api/v1/query",
			"window":             "5s",
			"latencyPercentiles": []any{50.0, 95.0},
			"labels":             map[string]any{"destination_app": "shop", "reporter": "destination"},
			"namespace":          "default",
			"service":            "shop",
		},
		"versionValues": versionValues,
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &experiment.Experiment{Spec: []experiment.TaskSpec{{}, {}}, Result: &experiment.Result{StartTime: start}}
	var logs bytes.Buffer
	env := &experiment.Env{Experiment: e, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Dir: t.TempDir()}
	// The istio template's counts are the counters' latest scraped values:
	// bracket them by the exporter's clock, from the last scrape stored
	// before the task (the one before the latest served) to the end of the
	// task. A scrape that a busy machine delays cannot move the bracket.
	scrapes := exp.Scrapes()
	before := scrapes[len(scrapes)-2].Seconds()
	// Prometheus evaluates each query at the time it receives it: bracket
	// those times by the wall clock.
	evalFrom := time.Now().Add(-time.Millisecond)
	if err := tk.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	evalTo := time.Now().Add(time.Millisecond)
	after := time.Since(exp.First()).Seconds()
	// rate() and increase() extrapolate the samples in the window towards
	// its ends, fully or by half an interval depending on how old the newest
	// sample is: a busy machine that delays scrapes lowers them well beyond
	// 1%. Their expected values come from the samples Prometheus stored, at
	// every time the query may have been evaluated.
	window := 5 * time.Second
	lookback := time.Since(evalFrom) + window + 5*time.Second
	bounds := func(selector string) (lo, hi float64) {
		t.Helper()
		series, err := prom.Points(context.Background(), selector, lookback)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi, ok := providertest.IncreaseBounds(series, evalFrom, evalTo, window)
		if !ok {
			t.Fatalf("%s: fewer than two samples in any %s window from %s to %s: %v", selector, window, evalFrom, evalTo, series)
		}
		return lo, hi
	}
	in := e.Result.Insights
	if in.NumVersions != 2 || in.VersionLabel(0) != "v1" || in.VersionLabel(1) != "v2" {
		t.Fatalf("versions: %d %v", in.NumVersions, in.VersionNames)
	}
	for i, v := range versions {
		// value is metric's value for this version, or an error saying why
		// there is none
		value := func(metric string) (float64, bool) {
			t.Helper()
			got, ok := in.Value(metric, i)
			if !ok {
				reason, _ := in.Missing(metric, i)
				t.Errorf("%s %s: no value (%s)", v.version, metric, reason)
			}
			return got, ok
		}
		check := func(metric string, want, rel float64) {
			t.Helper()
			got, ok := value(metric)
			if !ok {
				return
			}
			if !within(got, want, rel) {
				t.Errorf("%s %s = %v, want %v (within %g)", v.version, metric, got, want, rel)
			}
			t.Logf("%s %s = %v", v.version, metric, got)
		}
		between := func(metric string, lo, hi float64) {
			t.Helper()
			got, ok := value(metric)
			if !ok {
				return
			}
			const eps = 1e-9 // float rounding of the sums
			if got < lo*(1-eps) || got > hi*(1+eps) {
				t.Errorf("%s %s = %v, want within [%v, %v] (the stored samples' extrapolation from %s to %s)", v.version, metric, got, lo, hi, evalFrom.Format(time.StampMilli), evalTo.Format(time.StampMilli))
			}
			t.Logf("%s %s = %v in [%v, %v]", v.version, metric, got, lo, hi)
		}
		selectors := map[string][2]string{ // requests, errors
			"prom": {fmt.Sprintf(`http_requests_total{version=%q}`, v.version), fmt.Sprintf(`http_requests_total{version=%q,code="500"}`, v.version)},
			"kn": {fmt.Sprintf(`revision_request_count{namespace_name="default",service_name="shop",revision_name="shop-%s"}`, v.version),
				fmt.Sprintf(`revision_request_count{namespace_name="default",service_name="shop",revision_name="shop-%s",response_code_class="5xx"}`, v.version)},
		}
		for _, p := range []string{"prom", "kn"} {
			// rate() and increase() over the 5s window: what Prometheus's
			// extrapolation gives from the samples it stored.
			lo, hi := bounds(selectors[p][0])
			between(p+"/request-rate", lo/window.Seconds(), hi/window.Seconds())
			between(p+"/request-count", lo, hi)
			lo, hi = bounds(selectors[p][1])
			between(p+"/error-count", lo, hi)
			// Ratios of series scraped together are exact.
			check(p+"/error-rate", v.errorRate, 1e-9)
			check(p+"/latency-mean", v.meanSec*1000, 1e-9)
			check(p+"/latency-p95", wantP95[v.version], 1e-9)
		}
		check("prom/latency-p50", map[string]float64{"v1": 5 + 5*(0.5-0.1)/(0.55-0.1), "v2": 5 + 5*(0.5-0.2)/(0.6-0.2)}[v.version], 1e-9)
		// istio-prom: the latest counter values, over the time since the
		// experiment started.
		count, _ := in.Value("istio/request-count", i)
		if count < v.rate*before || count > v.rate*after {
			t.Errorf("%s istio/request-count = %v, want within [%v, %v]", v.version, count, v.rate*before, v.rate*after)
		}
		check("istio/error-count", count*v.errorRate, 1e-9)
		check("istio/error-rate", v.errorRate, 1e-9)
		check("istio/latency-mean", v.meanSec*1000, 1e-9)
		check("istio/latency-p95", wantP95[v.version], 1e-9)
	}
	if t.Failed() {
		t.Logf("logs:\n%s", logs.String())
	}

	// SLOs judged on these values, one column per version.
	as, err := newAssess(map[string]any{"SLOs": map[string]any{"upper": []any{
		map[string]any{"metric": "prom/error-rate", "limit": 0.02},
		map[string]any{"metric": "istio/latency-p95", "limit": 50.0},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := as.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	got := [][]slo.Outcome{}
	for _, v := range in.SLOVerdicts {
		got = append(got, []slo.Outcome{v.Versions[0].Outcome, v.Versions[1].Outcome})
	}
	want := [][]slo.Outcome{{slo.Failed, slo.Passed}, {slo.Passed, slo.Failed}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("verdicts %v, want %v", got, want)
	}
	var txt bytes.Buffer
	if err := report.Text(&txt, e, report.Options{}); err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(txt.String()), " ")
	flat = regexp.MustCompile(`(true|false) \([0-9.]+\)`).ReplaceAllString(flat, "$1") // the SLO cells' values
	for _, s := range []string{"SLO Conditions | v1 | v2", "prom/error-rate <= 0.02 | false | true", "istio/latency-p95 (msec) <= 50 | true | false", "prom/latency-mean (msec) | 15.00 | 20.00"} {
		if !strings.Contains(flat, s) {
			t.Errorf("report lacks %q:\n%s", s, txt.String())
		}
	}
	t.Logf("report:\n%s", txt.String())
}

// The built-in templates' error metrics against a real Prometheus when no
// error series exists: 0 errors for a service whose requests are there
// (its 5xx counter is made at the first error), and no data, never a 0
// that passes any limit, when the selector matches nothing because it is
// misspelt: a version that does not exist, or a label the counter lacks.
func TestCustomMetricsErrorFallback(t *testing.T) {
	t.Parallel()
	exp := providertest.NewExporter(t, func(e time.Duration) string {
		n := g(100 * e.Seconds())
		return `http_requests_total{version="v1",code="200"} ` + n + "\n" +
			`istio_requests_total{reporter="destination",destination_app="shop",destination_version="v1",response_code="200"} ` + n + "\n" +
			`revision_request_count{namespace_name="default",service_name="shop",revision_name="shop-v1",response_code="200",response_code_class="2xx"} ` + n + "\n"
	})
	prom := providertest.StartPrometheus(t, time.Second, exp.Target())
	prom.WaitFor(t, `count_over_time(revision_request_count[1m])`, 4, 60*time.Second)
	version := func(name, v, errLabel string) map[string]any {
		return map[string]any{
			"versionName": name,
			"requests":    fmt.Sprintf(`http_requests_total{version=%q}`, v),
			"errors":      fmt.Sprintf(`http_requests_total{version=%q,%s=~"5.."}`, v, errLabel),
			"labels":      map[string]any{"destination_version": v},
			"revision":    "shop-" + v,
		}
	}
	tk, err := newCustomMetrics(map[string]any{
		"templates": map[string]any{"prom": "prometheus", "istio": "istio-prom", "kn": "knative"},
		"values": map[string]any{
			"prometheusURL": prom.URL, "istioPromURL": prom.URL + "/api/v1/query", "window": "5s",
			"labels":    map[string]any{"destination_app": "shop", "reporter": "destination"},
			"namespace": "default", "service": "shop",
		},
		"versionValues": []any{version("ok", "v1", "code"), version("gone", "v9", "code"), version("mislabel", "v1", "status")},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &experiment.Experiment{Spec: []experiment.TaskSpec{{}}, Result: &experiment.Result{StartTime: time.Now().Add(-time.Second)}}
	var logs bytes.Buffer
	env := &experiment.Env{Experiment: e, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Dir: t.TempDir()}
	if err := tk.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	in := e.Result.Insights
	zero := func(i int, metrics ...string) {
		t.Helper()
		for _, m := range metrics {
			if got, ok := in.Value(m, i); !ok || got != 0 {
				reason, _ := in.Missing(m, i)
				t.Errorf("%s %s = %v (present %v: %s), want 0", in.VersionLabel(i), m, got, ok, reason)
			}
		}
	}
	none := func(i int, metrics ...string) {
		t.Helper()
		for _, m := range metrics {
			if got, ok := in.Value(m, i); ok {
				t.Errorf("%s %s = %v, want no data", in.VersionLabel(i), m, got)
			} else if reason, _ := in.Missing(m, i); reason == "" {
				t.Errorf("%s %s: no data without a reason", in.VersionLabel(i), m)
			}
		}
	}
	errs := []string{"prom/error-count", "prom/error-rate", "istio/error-count", "istio/error-rate", "kn/error-count", "kn/error-rate"}
	zero(0, errs...)
	none(1, append(errs, "prom/request-count", "istio/request-count", "kn/request-count")...)
	none(2, "prom/error-count", "prom/error-rate")
	zero(2, "istio/error-count", "istio/error-rate", "kn/error-count", "kn/error-rate")
	if t.Failed() {
		t.Logf("logs:\n%s", logs.String())
	}
}
