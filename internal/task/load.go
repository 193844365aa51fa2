package task

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/load"
	"iter8.tools/iter8/internal/metrics"
)

// defaultPercentiles are always reported, as in the original.
var defaultPercentiles = []float64{50, 75, 90, 95, 99, 99.9}

// mergePercentiles adds extra percentiles to the defaults, sorted and without
// duplicates.
func mergePercentiles(extra []float64) []float64 {
	seen := map[float64]bool{}
	var out []float64
	for _, p := range append(append([]float64{}, defaultPercentiles...), extra...) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// recordLoad stores one provider's load measurements as metrics (version 0)
// with the original's names, plus service-time metrics in open loop. Latency
// aggregations are joined to their histogram's name with sep: "-" for HTTP
// (http/latency-p99), "/" for gRPC (grpc/latency/p99), as in the original.
// share is the provider's weight in a mix of endpoints (1 for the whole).
func recordLoad(in *experiment.Insights, provider, sep string, st load.Stats, rep *load.Report, percentiles []float64, protocol string, share float64) error {
	set := func(name, desc, units string, typ metrics.Type, v float64) error {
		return in.SetValue(provider+"/"+name, metrics.Meta{Description: desc, Units: units, Type: typ}, 0, v)
	}
	if err := set("request-count", "number of requests sent", "", metrics.Counter, float64(st.Requests)); err != nil {
		return err
	}
	if err := set("error-count", "number of responses that were errors", "", metrics.Counter, float64(st.Errors)); err != nil {
		return err
	}
	if st.Requests > 0 {
		if err := set("error-rate", "fraction of responses that were errors", "", metrics.Gauge, float64(st.Errors)/float64(st.Requests)); err != nil {
			return err
		}
	}
	latencyWhat := "latency"
	if rep.Open {
		latencyWhat = "latency, measured from each request's intended start"
	}
	if err := recordHistogram(in, provider, "latency", sep, latencyWhat, st.Latency, percentiles); err != nil {
		return err
	}
	if rep.Open {
		if err := recordHistogram(in, provider, "service-time", sep, "service time, measured from each request's actual send", st.Service, percentiles); err != nil {
			return err
		}
	}
	// An endpoint of a mix gets its share of the rates: its weight of the
	// intended rate, and its part of the requests of the achieved rate.
	intended, achieved := rep.IntendedRate, rep.AchievedRate
	if total := rep.Total.Requests; st.Latency != rep.Total.Latency && total > 0 {
		frac := float64(st.Requests) / float64(total)
		achieved *= frac
		intended *= share
	}
	ls := &experiment.LoadStats{
		Mode:             "closed",
		Protocol:         protocol,
		Requests:         st.Requests,
		Errors:           st.Errors,
		DurationSeconds:  round(rep.Elapsed.Seconds(), 3),
		Codes:            st.Codes,
		AchievedRate:     round(achieved, 3),
		Delayed:          rep.Delayed,
		Unsent:           rep.Unsent,
		Saturated:        rep.Saturated,
		SaturationReason: rep.SaturationReason,
		CPUUtilization:   round(rep.CPUUtilization, 3),
		Aborted:          rep.Stopped,
	}
	if rep.Open {
		ls.Mode = "open"
		ls.IntendedRate = round(intended, 3)
	}
	if in.Load == nil {
		in.Load = map[string]*experiment.LoadStats{}
	}
	in.Load[provider] = ls
	return nil
}

func recordHistogram(in *experiment.Insights, provider, name, sep, what string, h *metrics.HDR, percentiles []float64) error {
	if h.Count() == 0 {
		return nil
	}
	ms := metrics.Msec
	gauges := []struct {
		suffix, desc string
		v            float64
	}{
		{"mean", "mean of observed " + what + " values", h.MeanMs()},
		{"stddev", "standard deviation of observed " + what + " values", h.StdDevMs()},
		{"min", "minimum of observed " + what + " values", h.MinMs()},
		{"max", "maximum of observed " + what + " values", h.MaxMs()},
	}
	for _, g := range gauges {
		if err := in.SetValue(provider+"/"+name+sep+g.suffix, metrics.Meta{Description: g.desc, Units: ms, Type: metrics.Gauge}, 0, g.v); err != nil {
			return err
		}
	}
	for _, p := range percentiles {
		ps := metrics.FormatPercentile(p)
		if err := in.SetValue(provider+"/"+name+sep+"p"+ps, metrics.Meta{Description: ps + "-th percentile of observed " + what + " values", Units: ms, Type: metrics.Gauge}, 0, h.PercentileMs(p)); err != nil {
			return err
		}
	}
	return in.SetHistogram(provider+"/"+name, metrics.Meta{Description: "histogram of " + what, Units: ms, Type: metrics.Histogram}, 0, h)
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// progressPrinter returns a load progress callback writing one updating line.
func progressPrinter(w io.Writer, label string) func(load.Progress) {
	if w == nil {
		return nil
	}
	return func(p load.Progress) {
		left := ""
		switch {
		case p.Total > 0:
			left = fmt.Sprintf(", %s left", (p.Total - p.Elapsed).Round(time.Second))
		case p.Planned > 0:
			left = fmt.Sprintf(", %d/%d", p.Requests, p.Planned)
		}
		_, _ = fmt.Fprintf(w, "\r\033[K%s: %d requests, %.1f req/s, %d errors, p99 %.2f ms%s", label, p.Requests, p.Rate, p.Errors, p.P99Ms, left)
	}
}

// finishLoad ends a load task: a run stopped by an abort condition fails the
// task with ErrAbort (no further loops), after its measurements were
// recorded.
func finishLoad(ctx context.Context, env *experiment.Env, rep *load.Report) error {
	if rep.Saturated {
		env.Logger.Warn("the intended load was not delivered; SLO verdicts on this run are invalid", "reason", rep.SaturationReason)
	}
	if rep.Stopped != "" {
		return fmt.Errorf("%w: %s", experiment.ErrAbort, rep.Stopped)
	}
	return ctx.Err()
}

// loadPlan is how an http or grpc task runs its load.
type loadPlan struct {
	name          string // for progress lines
	connections   int
	weights       []float64
	rateTolerance float64
	rate          float64 // 0: closed loop
	uniform       bool
	requests      *int64
	duration      *inputs.Duration
	abort         *abortWatch
	isError       func(endpoint int, o load.Outcome) bool
}

// options turns the plan into engine options.
func (p loadPlan) options(env *experiment.Env) load.Options {
	opts := load.Options{
		Connections:   p.connections,
		RateTolerance: p.rateTolerance,
		IsError:       p.isError,
		Progress:      progressPrinter(env.Progress, p.name),
	}
	if len(p.weights) > 1 {
		opts.Weights = p.weights
	}
	if p.abort != nil {
		opts.Monitor = p.abort.check
	}
	if p.requests != nil {
		opts.Requests = uint64(*p.requests)
	} else if p.duration != nil {
		opts.Duration = p.duration.Duration
	}
	if p.rate > 0 {
		pacer := load.Constant{PerSecond: p.rate}
		if !p.uniform {
			pacer.Tick = load.BatchTick(p.rate, p.connections)
		}
		opts.Pacer = pacer
	}
	return opts
}

// runLoad runs the engine, ending the progress line.
func runLoad(ctx context.Context, env *experiment.Env, target load.Target, opts load.Options) (*load.Report, error) {
	rep, err := load.Run(ctx, target, opts)
	if env.Progress != nil {
		_, _ = fmt.Fprintln(env.Progress)
	}
	return rep, err
}
