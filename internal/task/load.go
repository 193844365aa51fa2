package task

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/load"
	"iter8.tools/iter8/internal/metrics"
)

// The load tasks (http, grpc) share one skeleton, kept apart as vegeta keeps
// its parts: loadInputs and loadPlan say how to hit (count or duration,
// rate, connections, abort conditions), a protocol's endpoints say what to
// hit and build the target, and the recording loop turns what was measured
// into metrics, once for the whole run and once per named endpoint.

// defaultRateTolerance is how far the achieved rate may fall below the
// intended rate before the run is flagged.
const defaultRateTolerance = 0.01

// defaultPercentiles are always reported, as in the original.
var defaultPercentiles = []float64{50, 75, 90, 95, 99, 99.9}

// loadInputs are the inputs every load task takes under the same names; the
// http and grpc inputs embed them.
type loadInputs struct {
	Duration      *inputs.Duration          `json:"duration,omitempty"`
	Percentiles   []float64                 `json:"percentiles,omitempty"`
	Warmup        *bool                     `json:"warmup,omitempty"`
	RateTolerance *float64                  `json:"rateTolerance,omitempty"`
	Uniform       bool                      `json:"uniform,omitempty"`
	Arrivals      string                    `json:"arrivals,omitempty"`
	Abort         []abortCondition          `json:"abort,omitempty"`
	Endpoints     map[string]map[string]any `json:"endpoints,omitempty"`
	// Replicas is the number of load generator pods (distributed.go).
	Replicas *int `json:"replicas,omitempty"`
	// Provider names the task's metrics in place of the protocol's name
	// (canary/latency-p99, canary-<endpoint>/...), so that two load tasks
	// in one loop keep their metrics apart.
	Provider string `json:"provider,omitempty"`
	// WarmupNumRequests and WarmupDuration are chart values that the
	// original's hub chart 0.13.x also left in the main task, where its
	// task ignored them (the chart's warmup task before it used them).
	// Accepted and ignored likewise; they are not written back.
	WarmupNumRequests any `json:"warmupNumRequests,omitempty"`
	WarmupDuration    any `json:"warmupDuration,omitempty"`
}

// runLevel lists the inputs of loadInputs that apply to the whole task and
// cannot be set per endpoint (duration and percentiles can: see budget).
func runLevel() []string {
	return []string{"warmup", "rateTolerance", "uniform", "arrivals", "abort", "endpoints", "replicas", "provider"}
}

// provider validates the provider input of a task of protocol kind and
// returns the name of the task's metrics: the input, or the protocol's name.
// A name of the other protocol, or one that reads as an endpoint's
// (http-<name>, grpc-<name>), would mix this task's metrics with another's.
func (in *loadInputs) provider(kind string) (string, error) {
	p := in.Provider
	if p == "" || p == kind {
		return kind, nil
	}
	if !metrics.ValidSegment(p) || p == "http" || p == "grpc" || strings.HasPrefix(p, "http-") || strings.HasPrefix(p, "grpc-") {
		return "", &inputs.FieldError{Field: "provider", Value: p, Expected: "a name for this task's metrics made of letters, digits, '.', '_' and '-', such as canary (metrics canary/latency-p99), other than http, grpc and the endpoints' http-<name> and grpc-<name>"}
	}
	return p, nil
}

// checkCount validates the request count (given under the protocol's name)
// and the duration.
func (in *loadInputs) checkCount(field string, n *int64) error {
	if n != nil && *n < 1 {
		return &inputs.FieldError{Field: field, Value: *n, Expected: "a whole number of at least 1"}
	}
	if in.Duration != nil && in.Duration.Duration <= 0 {
		return &inputs.FieldError{Field: "duration", Value: in.Duration.String(), Expected: "a positive duration such as 30s"}
	}
	return nil
}

// checkRate validates a rate given under the protocol's name.
func checkRate(field string, rate *float64, expected string) error {
	if rate != nil {
		if r := *rate; r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
			return &inputs.FieldError{Field: field, Value: r, Expected: expected}
		}
	}
	return nil
}

// checkPositive validates an optional whole number of at least 1.
func checkPositive(field string, v *int) error {
	if v != nil && *v < 1 {
		return &inputs.FieldError{Field: field, Value: *v, Expected: "a whole number of at least 1"}
	}
	return nil
}

// positiveDuration sets an unset duration input to def and requires it to
// be positive; expected says what is wanted.
func positiveDuration(field string, d **inputs.Duration, def time.Duration, expected string) error {
	if *d == nil {
		*d = &inputs.Duration{Duration: def}
	}
	if (*d).Duration <= 0 {
		return &inputs.FieldError{Field: field, Value: (*d).String(), Expected: expected}
	}
	return nil
}

// checkSummary validates the percentiles (adding the defaults) and the rate
// tolerance (setting its default).
func (in *loadInputs) checkSummary() error {
	in.WarmupNumRequests, in.WarmupDuration = nil, nil
	for _, p := range in.Percentiles {
		if p <= 0 || p > 100 || math.IsNaN(p) {
			return &inputs.FieldError{Field: "percentiles", Value: p, Expected: "percentiles greater than 0 and at most 100"}
		}
	}
	in.Percentiles = mergePercentiles(in.Percentiles)
	if err := checkReplicas(in.Replicas); err != nil {
		return err
	}
	if in.RateTolerance == nil {
		r := defaultRateTolerance
		in.RateTolerance = &r
	}
	if r := *in.RateTolerance; r <= 0 || r >= 1 || math.IsNaN(r) {
		return &inputs.FieldError{Field: "rateTolerance", Value: r, Expected: "a fraction between 0 and 1, such as 0.01"}
	}
	switch in.Arrivals {
	case "", arrivalsUniform, arrivalsPoisson:
	default:
		return &inputs.FieldError{Field: "arrivals", Value: in.Arrivals, Expected: arrivalsExpected}
	}
	return nil
}

// The open-loop arrival processes: evenly spaced (the default) or Poisson.
const (
	arrivalsUniform  = "uniform"
	arrivalsPoisson  = "poisson"
	arrivalsExpected = `"uniform" (evenly spaced, the default) or "poisson"`
	// poissonSeed fixes Poisson arrivals: every run of an experiment sends
	// the same schedule.
	poissonSeed = 1
)

// mergePercentiles adds extra percentiles to the defaults, sorted and without
// duplicates.
func mergePercentiles(extra []float64) []float64 {
	out := slices.Concat(defaultPercentiles, extra)
	slices.Sort(out)
	return slices.Compact(out)
}

// loadTask is the skeleton of a load task: its inputs I (with defaults), the
// protocol's resolved endpoints E, the plan, and the recording loop.
type loadTask[E, I any] struct {
	in   I
	kind loadKind[E]
	plan loadPlan
	eps  []mixEndpoint[E]
	pcts []float64
	warm bool // a warmup: measurements are discarded
	// inTurn runs the endpoints one after another, each with its own
	// budget (see runInTurn); otherwise they run together as one mix.
	inTurn bool
	// gens are the generator pods sharing the load (replicas > 1).
	gens *Generators
	// provider names the metrics: the protocol's name or the provider input.
	provider string
}

// loadKind is what a protocol adds to the skeleton.
type loadKind[E any] struct {
	name string // provider of the metrics: http, grpc
	sep  string // between a histogram's name and its aggregation
	unit string // what log lines count: requests, calls
	// runLevel lists the protocol's inputs that apply to the whole run.
	runLevel []string
	// isError judges outcomes, per endpoint.
	isError func(eps []mixEndpoint[E]) func(endpoint int, o load.Outcome) bool
	// target builds the target for the endpoints, ready to measure; opts
	// are the run's engine options (for a protocol's own warm-up). A
	// target that finds an endpoint unreachable during the run calls stop
	// with the error the task then returns (see loadTask.load); a nil stop
	// lets the run go on.
	target func(ctx context.Context, env *experiment.Env, eps []mixEndpoint[E], opts load.Options, stop func(error)) (measured, error)
	// codes renames status codes for the result, or is nil.
	codes func(map[string]int64) map[string]int64
}

// protocolInputs are a load task's inputs as the skeleton sees them: a
// pointer to a struct that embeds loadInputs and the request inputs E.
type protocolInputs[E any] interface {
	// defaults checks the inputs and fills in defaults.
	defaults() error
	// skeleton returns the protocol, the common inputs, the top-level
	// request and the plan's protocol-named parts (connections, rate,
	// requests).
	skeleton() (loadKind[E], *loadInputs, E, loadPlan)
}

// mixMember is a protocol's endpoint inputs T, decoded from one endpoint:
// split returns the request inputs and how the endpoint shares the load.
type mixMember[E, T any] interface {
	*T
	split() (E, share)
}

// newLoad builds a load task: it decodes the inputs I strictly, checks them
// and fills in defaults, resolves the endpoints (each decoded as T) and
// compiles the abort conditions.
func newLoad[E request, I, T any, PI interface {
	*I
	protocolInputs[E]
}, PT mixMember[E, T]](with map[string]any) (experiment.Task, error) {
	t := &loadTask[E, I]{}
	in := PI(&t.in)
	if err := inputs.Decode(with, in); err != nil {
		return nil, err
	}
	if err := in.defaults(); err != nil {
		return nil, err
	}
	kind, common, top, plan := in.skeleton()
	provider, err := common.provider(kind.name)
	if err != nil {
		return nil, err
	}
	split := func(e *T) (E, share) { return PT(e).split() }
	eps, inTurn, err := resolveEndpoints(top, common.Endpoints, provider, slices.Concat(kind.runLevel, runLevel()), split)
	if err != nil {
		return nil, err
	}
	if plan.abort, err = compileAborts(provider, kind.sep, common.Abort); err != nil {
		return nil, err
	}
	plan.name, plan.uniform, plan.duration, plan.rateTolerance = provider, common.Uniform, common.Duration, *common.RateTolerance
	if plan.arrivals = common.Arrivals; plan.arrivals == arrivalsPoisson && plan.rate == 0 {
		return nil, &inputs.FieldError{Field: "arrivals", Value: plan.arrivals, Expected: arrivalsExpected + " with a fixed rate (http qps or grpc rps above 0): without one, each connection sends when its last response returns"}
	}
	if common.Replicas != nil {
		plan.replicas = *common.Replicas
		if plan.replicas > 1 && inTurn {
			return nil, &inputs.FieldError{Field: "replicas", Value: plan.replicas, Expected: "1 when endpoints run in turn: load generator pods share one schedule, so give every endpoint a weight (one mix) to use several"}
		}
	}
	plan.isError = kind.isError(eps)
	if !inTurn {
		for _, e := range eps {
			plan.weights = append(plan.weights, e.weight)
		}
	}
	t.kind, t.plan, t.eps, t.pcts, t.warm, t.inTurn = kind, plan, eps, common.Percentiles, common.Warmup != nil && *common.Warmup, inTurn
	t.provider = provider
	return t, nil
}

// Inputs returns the inputs with their defaults.
func (t *loadTask[E, I]) Inputs() any { return t.in }

// measured is a target built by a protocol, with what it adds to the
// metrics. Endpoint -1 stands for the whole run.
type measured interface {
	load.Target
	Close()
	// protocol names the protocol endpoint ep spoke.
	protocol(ep int) string
	// record stores the protocol's own measurements of endpoint ep, with
	// those of more targets of the same protocol (endpoints run in turn).
	record(in *experiment.Insights, provider string, ep int, percentiles []float64, more ...measured) error
}

// Run builds the target, runs the load and records it.
func (t *loadTask[E, I]) Run(ctx context.Context, env *experiment.Env) error {
	if t.replicas() > 1 {
		return t.runDistributed(ctx, env)
	}
	if t.inTurn {
		return t.runInTurn(ctx, env)
	}
	opts := t.plan.options(env)
	rep, target, err := t.load(ctx, env, t.eps, opts)
	if err != nil {
		return err
	}
	defer target.Close()
	if t.warm {
		env.Logger.Info("warmup finished; its results are discarded", t.kind.unit, rep.Total.Requests)
		return ctx.Err()
	}
	if err := t.record(env, target, rep); err != nil {
		return err
	}
	env.Logger.Info(t.provider+" load finished", t.kind.unit, rep.Total.Requests, "errors", rep.Total.Errors, "rate", round(rep.AchievedRate, 1))
	return finishLoad(ctx, env, rep)
}

// load builds the target of eps and runs it with opts. A target that finds
// an endpoint unreachable stops the run, and load returns why.
func (t *loadTask[E, I]) load(ctx context.Context, env *experiment.Env, eps []mixEndpoint[E], opts load.Options) (*load.Report, measured, error) {
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	target, err := t.kind.target(runCtx, env, eps, opts, stop)
	if err != nil {
		return nil, nil, err
	}
	rep, err := runLoad(runCtx, env, target, opts)
	if err == nil && ctx.Err() == nil && runCtx.Err() != nil {
		err = context.Cause(runCtx)
	}
	if err != nil {
		target.Close()
		return nil, nil, err
	}
	return rep, target, nil
}

// record stores the run's metrics under the task's provider name and, for
// named endpoints, under <provider>-<endpoint> too.
func (t *loadTask[E, I]) record(env *experiment.Env, target measured, rep *load.Report) error {
	insights, err := env.Experiment.Result.InitInsights(1, nil)
	if err != nil {
		return err
	}
	if err := t.recordOne(insights, t.provider, target, -1, rep.Total, rep, 1, t.pcts); err != nil {
		return err
	}
	if len(t.eps) == 1 && t.eps[0].id == "" {
		return nil
	}
	for i, e := range t.eps {
		if err := t.recordOne(insights, t.provider+"-"+e.id, target, i, rep.Endpoints[i], rep, weightShare(t.plan.weights, i), t.pcts); err != nil {
			return err
		}
	}
	return nil
}

// recordOne stores what endpoint ep of target (-1: all of them, with those
// of more targets) measured in rep as provider's metrics, with percentiles
// pcts; st are its stats and share its weight in a mix.
func (t *loadTask[E, I]) recordOne(in *experiment.Insights, provider string, target measured, ep int, st load.Stats, rep *load.Report, share float64, pcts []float64, more ...measured) error {
	if t.kind.codes != nil {
		st.Codes = t.kind.codes(st.Codes)
	}
	if err := recordLoad(in, provider, t.kind.sep, st, rep, pcts, target.protocol(ep), share); err != nil {
		return err
	}
	return target.record(in, provider, ep, pcts, more...)
}

// targetError is the error of a target's constructor for eps: with one
// endpoint, it is named by its name, if it has one, rather than its index.
func targetError[E any](eps []mixEndpoint[E], err error) error {
	var ee *load.EndpointError
	if len(eps) == 1 && errors.As(err, &ee) {
		return endpointErr(eps[0].id, ee.Err)
	}
	return err
}

// weightShare is endpoint i's fraction of the total weight.
func weightShare(weights []float64, i int) float64 {
	var total float64
	for _, w := range weights {
		total += w
	}
	if total == 0 {
		return 1
	}
	return weights[i] / total
}

// recordLoad stores one provider's load measurements as metrics (version 0)
// with the original's names, plus service-time metrics in open loop. Latency
// aggregations are joined to their histogram's name with sep: "-" for HTTP
// (http/latency-p99), "/" for gRPC (grpc/latency/p99), as in the original.
// share is the provider's weight in a mix of endpoints (1 for the whole).
func recordLoad(in *experiment.Insights, provider, sep string, st load.Stats, rep *load.Report, percentiles []float64, protocol string, share float64) error {
	counts := []plainMetric{
		{"request-count", "number of requests sent", "", metrics.Counter, float64(st.Requests)},
		{"error-count", "number of responses that were errors", "", metrics.Counter, float64(st.Errors)},
	}
	if st.Requests > 0 {
		counts = append(counts, plainMetric{"error-rate", "fraction of responses that were errors", "", metrics.Gauge, float64(st.Errors) / float64(st.Requests)})
	}
	if err := setValues(in, provider, counts...); err != nil {
		return err
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
		Delayed:          st.Delayed,
		Unsent:           st.Unsent,
		UnsentHeld:       st.UnsentHeld,
		Ignored:          rep.Ignored,
		TimedOut:         st.TimedOut,
		Replayed:         st.Replayed,
		Connections:      rep.Connections,
		ConnectionBound:  rep.ConnectionBound,
		Warning:          rep.Warning,
		Saturated:        rep.Saturated,
		SaturationReason: rep.SaturationReason,
		CPUUtilization:   round(rep.CPUUtilization, 3),
		CPUWait:          round(rep.CPUWait, 3),
		Aborted:          rep.Stopped,
	}
	if rep.Open {
		ls.Mode = "open"
		ls.IntendedRate = round(intended, 3)
		ls.InitialConnections, ls.MaxConnections = rep.InitialConnections, rep.MaxConnections
		ls.LatenessMs = round(rep.Lateness.Seconds()*1000, 3)
		if rep.GeneratorLag != nil && rep.GeneratorLag.Count() > 0 {
			ls.GeneratorLagP99Ms = rep.GeneratorLag.PercentileMs(99)
		}
	}
	if in.Load == nil {
		in.Load = map[string]*experiment.LoadStats{}
	}
	in.Load[provider] = ls
	return nil
}

// plainMetric is one plain (not histogram) metric of a provider.
type plainMetric struct {
	name, desc, units string
	typ               metrics.Type
	v                 float64
}

// setValues stores plain metrics of a provider, for version 0.
func setValues(in *experiment.Insights, provider string, vals ...plainMetric) error {
	for _, v := range vals {
		if err := in.SetValue(provider+"/"+v.name, metrics.Meta{Description: v.desc, Units: v.units, Type: v.typ}, 0, v.v); err != nil {
			return err
		}
	}
	return nil
}

// recordHistogram stores a latency histogram and its aggregations, named
// <provider>/<name><sep><aggregation>.
func recordHistogram(in *experiment.Insights, provider, name, sep, what string, h *metrics.HDR, percentiles []float64) error {
	if h.Count() == 0 {
		return nil
	}
	ms, agg := metrics.Msec, name+sep
	vals := []plainMetric{
		{agg + "mean", "mean of observed " + what + " values", ms, metrics.Gauge, h.MeanMs()},
		{agg + "stddev", "standard deviation of observed " + what + " values", ms, metrics.Gauge, h.StdDevMs()},
		{agg + "min", "minimum of observed " + what + " values", ms, metrics.Gauge, h.MinMs()},
		{agg + "max", "maximum of observed " + what + " values", ms, metrics.Gauge, h.MaxMs()},
	}
	for _, p := range percentiles {
		ps := metrics.FormatPercentile(p)
		vals = append(vals, plainMetric{agg + "p" + ps, ps + "-th percentile of observed " + what + " values", ms, metrics.Gauge, h.PercentileMs(p)})
	}
	if err := setValues(in, provider, vals...); err != nil {
		return err
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
	if rep.ConnectionBound {
		env.Logger.Warn("the target was too slow for the rate at the connection cap; its latency includes the waits", "reason", rep.Warning)
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
	arrivals      string // "" or arrivalsUniform: evenly spaced
	timeout       time.Duration
	requests      *int64
	duration      *inputs.Duration
	abort         *abortWatch
	isError       func(endpoint int, o load.Outcome) bool
	extras        planExtras // schedules and ghz's options (schedule.go)
	replicas      int        // load generator pods (distributed.go)
}

// options turns the plan into engine options.
func (p loadPlan) options(env *experiment.Env) load.Options {
	opts := load.Options{
		Connections:   p.connections,
		RateTolerance: p.rateTolerance,
		Timeout:       p.timeout,
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
		// Evenly spaced arrivals by default (uniform: true changes
		// nothing), or Poisson arrivals.
		opts.Pacer = load.Constant{PerSecond: p.rate}
		if p.arrivals == arrivalsPoisson {
			opts.Pacer = load.NewPoisson(p.rate, poissonSeed)
		}
		opts.MaxConnections = growthCap(p.rate, p.timeout, p.connections)
	}
	p.extras.apply(p, &opts)
	return opts
}

// maxGrowth caps the connections an open-loop run may grow to by default.
const maxGrowth = 1000

// growthCap is the open-loop connection cap: enough connections for every
// request of one timeout to be in flight, and for the requests due while a
// hang went unnoticed (load.HangGrow), which are sent when it is noticed
// (rate × (timeout + HangGrow)); at least the configured connections and at
// most maxGrowth (vegeta's max-workers). With rate × timeout alone, a
// target that hung left a second of requests unsent at any time (45 of 500
// at 50 req/s with a 1 s timeout), which no error-rate SLO sees.
func growthCap(rate float64, timeout time.Duration, connections int) int {
	return max(connections, int(min(math.Ceil(rate*(timeout+load.HangGrow).Seconds()), maxGrowth)))
}

// checkRanges refuses load inputs outside the engine's documented ranges
// (README "How load is generated"), naming the field.
func checkRanges(rateField string, rate *float64, conns map[string]*int, requestsField string, requests *int64, duration *inputs.Duration) error {
	if rate != nil && *rate != 0 && !(*rate >= load.MinRate && *rate <= load.MaxRate) {
		return &inputs.FieldError{Field: rateField, Value: *rate, Expected: fmt.Sprintf("0 (as fast as responses return) or a rate from %g to %g per second", load.MinRate, load.MaxRate)}
	}
	for _, f := range slices.Sorted(maps.Keys(conns)) {
		if c := conns[f]; c != nil && *c > load.MaxConnectionLimit {
			return &inputs.FieldError{Field: f, Value: *c, Expected: fmt.Sprintf("a whole number from 1 to %d", load.MaxConnectionLimit)}
		}
	}
	if requests != nil && *requests > load.MaxRequestCount {
		return &inputs.FieldError{Field: requestsField, Value: *requests, Expected: fmt.Sprintf("a whole number from 1 to %d", int64(load.MaxRequestCount))}
	}
	if duration != nil && duration.Duration > load.MaxRunDuration {
		return &inputs.FieldError{Field: "duration", Value: duration.String(), Expected: "a positive duration of at most 168h"}
	}
	return nil
}

// runLoad runs the engine, ending the progress line.
func runLoad(ctx context.Context, env *experiment.Env, target load.Target, opts load.Options) (*load.Report, error) {
	rep, err := load.Run(ctx, target, opts)
	if env.Progress != nil {
		_, _ = fmt.Fprintln(env.Progress)
	}
	return rep, err
}
