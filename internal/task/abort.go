package task

import (
	"fmt"
	"math"
	"time"

	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/load"
	"iter8.tools/iter8/internal/metrics"
)

// abortCondition stops a running load task when one of its own metrics,
// measured over each second, stays above a limit for a sustained time: for
// example http/latency-p99 above 200 (ms) for 10s.
type abortCondition struct {
	Metric string          `json:"metric"`
	Limit  float64         `json:"limit"`
	For    inputs.Duration `json:"for"`
}

// abortWatch follows abort conditions over a run.
type abortWatch struct {
	conds []compiledAbort
}

type compiledAbort struct {
	abortCondition
	percentile float64 // 0: mean
	errorRate  bool
	since      time.Duration // start of the current breach, or -1
}

// compileAborts validates abort conditions for a task whose metrics are named
// provider/... (latency aggregations joined with sep); field is the input's
// name for errors.
func compileAborts(provider, sep string, list []abortCondition) (*abortWatch, error) {
	w := &abortWatch{}
	for i, c := range list {
		field := fmt.Sprintf("abort[%d]", i)
		n, err := metrics.ParseName(c.Metric)
		ok := err == nil && n.Provider == provider
		ca := compiledAbort{abortCondition: c, since: -1}
		if ok {
			hist, p, isP := n.Percentile()
			switch {
			case isP && hist == "latency":
				ca.percentile = p
			case n.Metric == "latency" && n.Aggregation == "mean", n.Metric == "latency-mean" && n.Aggregation == "":
			case n.Metric == "error-rate" && n.Aggregation == "":
				ca.errorRate = true
			default:
				ok = false
			}
		}
		if !ok {
			return nil, &inputs.FieldError{Field: field + ".metric", Value: c.Metric, Expected: fmt.Sprintf("%s/error-rate, a %s latency percentile or the %s latency mean (e.g. %s)", provider, provider, provider, provider+"/latency"+sep+"p99")}
		}
		if math.IsNaN(c.Limit) || math.IsInf(c.Limit, 0) {
			return nil, &inputs.FieldError{Field: field + ".limit", Value: c.Limit, Expected: "a finite number"}
		}
		if c.For.Duration < time.Second {
			return nil, &inputs.FieldError{Field: field + ".for", Value: c.For.String(), Expected: "a duration of at least 1s (metrics are checked every second)"}
		}
		w.conds = append(w.conds, ca)
	}
	if len(w.conds) == 0 {
		return nil, nil
	}
	return w, nil
}

// check judges one interval; it returns why to stop, or "".
func (w *abortWatch) check(iv load.Interval) string {
	start := iv.End - iv.Length
	for i := range w.conds {
		c := &w.conds[i]
		v, breached := c.value(iv)
		if !breached {
			c.since = -1
			continue
		}
		if c.since < 0 {
			c.since = start
		}
		if iv.End-c.since >= c.For.Duration {
			what := fmt.Sprintf("%.4g", v)
			if math.IsInf(v, 1) {
				what = "no response"
			}
			return fmt.Sprintf("%s was above %s for %s (from %s to %s into the run; last second: %s)",
				c.Metric, formatLimit(c.Limit), c.For.String(), c.since.Round(time.Second), iv.End.Round(time.Second), what)
		}
	}
	return ""
}

// value returns the condition's metric over the interval and whether it is
// above the limit. A latency condition with requests in flight and no
// response at all in the interval counts as breached: the server is stalled.
func (c *compiledAbort) value(iv load.Interval) (float64, bool) {
	if c.errorRate {
		if iv.Requests == 0 {
			return 0, false
		}
		v := float64(iv.Errors) / float64(iv.Requests)
		return v, v > c.Limit
	}
	if iv.Latency.Count() == 0 {
		if iv.InFlight > 0 {
			return math.Inf(1), true
		}
		return 0, false
	}
	v := iv.Latency.MeanMs()
	if c.percentile > 0 {
		v = iv.Latency.PercentileMs(c.percentile)
	}
	return v, v > c.Limit
}

func formatLimit(f float64) string { return fmt.Sprintf("%g", f) }
