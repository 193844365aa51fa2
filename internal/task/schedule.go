package task

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/load"
	"iter8.tools/iter8/internal/load/grpcload"
)

// Load schedules and the rest of ghz's runner config. The original
// documented that any field of ghz's runner config (ghz v0.108-v0.114) is
// a grpc input: those that mean something for a load engine are applied,
// the output-only ones are accepted with a warning on the task. The http
// task offers the same rate schedule as qpsSchedule.

// planExtras are what schedules and ghz's options add to a load plan.
type planExtras struct {
	rates   *load.Steps
	workers *load.Workers
	// maxDuration bounds a count-bounded run in time (ghz's max-duration).
	maxDuration      time.Duration
	omitErrorLatency bool
	durationStop     load.DurationStop
	// noGrowth keeps an open loop at its connections (ghz's async: false).
	noGrowth bool
}

// apply sets the engine options of the extras, after the plan's own.
func (x planExtras) apply(p loadPlan, o *load.Options) {
	if x.rates != nil {
		o.Pacer = *x.rates
		o.MaxConnections = growthCap(min(x.rates.Rate(), load.MaxRate), p.timeout, p.connections)
	}
	if x.noGrowth && o.Pacer != nil {
		o.MaxConnections = 0
	}
	o.Concurrency = x.workers
	if x.maxDuration > 0 && o.Requests > 0 && (o.Duration == 0 || x.maxDuration < o.Duration) {
		o.Duration = x.maxDuration
	}
	o.OmitErrorLatency, o.DurationStop = x.omitErrorLatency, x.durationStop
}

// rateSchedule is the http task's qpsSchedule: a rate that starts at start
// requests per second and changes by step every stepDuration (default 1s)
// until it reaches end, or until maxDuration has elapsed; then it stays
// there (at end, if given).
type rateSchedule struct {
	Start        *float64         `json:"start,omitempty"`
	Step         *float64         `json:"step,omitempty"`
	StepDuration *inputs.Duration `json:"stepDuration,omitempty"`
	End          *float64         `json:"end,omitempty"`
	MaxDuration  *inputs.Duration `json:"maxDuration,omitempty"`
}

// stepFields names a schedule's inputs in errors.
type stepFields struct{ start, step, stepDuration, end, maxDuration string }

// stepped checks the inputs of a schedule and returns it. Missing values
// are errors, but for stepDuration (line: 1s) and end, maxDuration (none).
// A line schedule steps every second (ghz's line); otherwise a missing
// stepDuration is defStep, or an error when defStep is 0.
func stepped(f stepFields, start, step, end *float64, stepDuration, maxDuration *inputs.Duration, line bool, defStep time.Duration, unit string, maxLevel float64) (load.Stepped, error) {
	s := load.Stepped{StepDuration: time.Second}
	if start == nil {
		return s, &inputs.FieldError{Field: f.start, Missing: true, Expected: "the first step's " + unit}
	}
	if step == nil || *step == 0 {
		return s, &inputs.FieldError{Field: f.step, Missing: step == nil, Value: 0, Expected: "a non-zero change of " + unit + " at each step"}
	}
	s.Start, s.Step = *start, *step
	minLevel := load.MinRate
	if maxLevel == load.MaxConnectionLimit {
		minLevel = 1 // workers
	}
	if !(s.Start >= minLevel && s.Start <= maxLevel) {
		return s, &inputs.FieldError{Field: f.start, Value: s.Start, Expected: fmt.Sprintf("%s from %g to %g", unit, minLevel, maxLevel)}
	}
	switch {
	case line:
	case stepDuration != nil:
		s.StepDuration = stepDuration.Duration
	case defStep > 0:
		s.StepDuration = defStep
	default:
		return s, &inputs.FieldError{Field: f.stepDuration, Missing: true, Expected: "how long each step lasts, such as 5s"}
	}
	if s.StepDuration <= 0 {
		return s, &inputs.FieldError{Field: f.stepDuration, Value: s.StepDuration.String(), Expected: "a positive duration such as 5s"}
	}
	if end != nil && *end != 0 {
		s.End = *end
		if !(s.End > 0 && s.End <= maxLevel) || (s.End-s.Start)*s.Step <= 0 {
			return s, &inputs.FieldError{Field: f.end, Value: s.End, Expected: fmt.Sprintf("0 (none) or %s up to %g beyond %s %g in the direction of %s %g", unit, maxLevel, f.start, s.Start, f.step, s.Step)}
		}
	}
	if maxDuration != nil {
		if maxDuration.Duration <= 0 || maxDuration.Duration > load.MaxRunDuration {
			return s, &inputs.FieldError{Field: f.maxDuration, Value: maxDuration.String(), Expected: "a positive duration of at most 168h"}
		}
		s.MaxDuration = maxDuration.Duration
	}
	return s, s.Check()
}

// checkRun refuses a rate schedule that the run cannot follow: one that
// falls to 0 before a count-bounded run has sent its requests, or rises
// beyond the engine's range within the run.
func checkRun(field string, p load.Steps, requests *int64, duration *inputs.Duration) error {
	end := load.MaxRunDuration
	if duration != nil && requests == nil { // a count wins over a duration
		end = min(end, duration.Duration)
	}
	if requests != nil {
		last := p.At(uint64(*requests - 1))
		if last == math.MaxInt64 {
			n := load.Count(p, math.MaxInt64)
			return &inputs.FieldError{Field: field, Value: p.Step, Expected: fmt.Sprintf("a schedule that keeps a rate until the run's %d requests are sent (its rate falls to 0 after %d): give an end rate or a duration", *requests, n)}
		}
		end = min(end, last)
	}
	if r := p.RateAt(end); r > load.MaxRate {
		return &inputs.FieldError{Field: field, Value: p.Step, Expected: fmt.Sprintf("a schedule whose rate stays at most %g per second within the run (it reaches %g): give an end rate", load.MaxRate, r)}
	}
	return nil
}

// plan checks the http task's qpsSchedule and returns its extras.
func (s *rateSchedule) plan(requests *int64, duration *inputs.Duration) (planExtras, error) {
	if s == nil {
		return planExtras{}, nil
	}
	f := stepFields{"qpsSchedule.start", "qpsSchedule.step", "qpsSchedule.stepDuration", "qpsSchedule.end", "qpsSchedule.maxDuration"}
	st, err := stepped(f, s.Start, s.Step, s.End, s.StepDuration, s.MaxDuration, false, time.Second, "requests per second", load.MaxRate)
	if err != nil {
		return planExtras{}, err
	}
	p := load.Steps{Stepped: st}
	if err := checkRun("qpsSchedule.step", p, requests, duration); err != nil {
		return planExtras{}, err
	}
	return planExtras{rates: &p}, nil
}

// ghzInputs are the fields of ghz's runner config (v0.108-v0.114) that the
// grpc task takes beyond its calls' inputs.
type ghzInputs struct {
	Name         string           `json:"name,omitempty"`
	Tags         map[string]any   `json:"tags,omitempty"` // values stringified, as the original's chart may leave numbers
	CPUs         *int             `json:"cpus,omitempty"`
	Async        *bool            `json:"async,omitempty"`
	Keepalive    *inputs.Duration `json:"keepalive,omitempty"`
	CountErrors  *bool            `json:"count-errors,omitempty"`
	LBStrategy   string           `json:"lb-strategy,omitempty"`
	MaxDuration  *inputs.Duration `json:"max-duration,omitempty"`
	DurationStop string           `json:"duration-stop,omitempty"`

	LoadSchedule     string           `json:"load-schedule,omitempty"`
	LoadStart        *float64         `json:"load-start,omitempty"`
	LoadEnd          *float64         `json:"load-end,omitempty"`
	LoadStep         *float64         `json:"load-step,omitempty"`
	LoadStepDuration *inputs.Duration `json:"load-step-duration,omitempty"`
	LoadMaxDuration  *inputs.Duration `json:"load-max-duration,omitempty"`

	ConcurrencySchedule     string           `json:"concurrency-schedule,omitempty"`
	ConcurrencyStart        *float64         `json:"concurrency-start,omitempty"`
	ConcurrencyEnd          *float64         `json:"concurrency-end,omitempty"`
	ConcurrencyStep         *float64         `json:"concurrency-step,omitempty"`
	ConcurrencyStepDuration *inputs.Duration `json:"concurrency-step-duration,omitempty"`
	ConcurrencyMaxDuration  *inputs.Duration `json:"concurrency-max-duration,omitempty"`

	// ghz's options that do not apply to iter8: accepted, kept and
	// reported in a warning.
	Format                   any `json:"format,omitempty"`
	Output                   any `json:"output,omitempty"`
	Debug                    any `json:"debug,omitempty"`
	StreamDynamicMessages    any `json:"stream-dynamic-messages,omitempty"`
	DisableTemplateFunctions any `json:"disable-template-functions,omitempty"`
	DisableTemplateData      any `json:"disable-template-data,omitempty"`

	extras planExtras
	notes  []string
}

// ghzRunLevel lists ghz's inputs: they apply to the whole run.
func ghzRunLevel() []string {
	return []string{"name", "tags", "cpus", "async", "keepalive", "count-errors", "lb-strategy", "max-duration", "duration-stop",
		"load-schedule", "load-start", "load-end", "load-step", "load-step-duration", "load-max-duration",
		"concurrency-schedule", "concurrency-start", "concurrency-end", "concurrency-step", "concurrency-step-duration", "concurrency-max-duration",
		"format", "output", "debug", "stream-dynamic-messages", "disable-template-functions", "disable-template-data"}
}

// notApplied explains the ghz options iter8 accepts but does not apply.
var notApplied = []struct{ key, why string }{
	{"format", "iter8 records its own result and writes reports with iter8 report"},
	{"output", "iter8 records its own result and writes reports with iter8 report"},
	{"debug", "iter8 logs to stderr (--logLevel)"},
	{"cpus", "GOMAXPROCS is process-wide: iter8 does not change it for one task"},
	{"stream-dynamic-messages", "iter8 renders data templates once per call"},
	{"disable-template-functions", "iter8 renders data as a template only when it contains {{"},
	{"disable-template-data", "iter8 renders data as a template only when it contains {{"},
}

// schedules checks ghz's inputs, given the run's rate (rps), count and
// duration, and sets the extras and the notes.
func (g *ghzInputs) schedules(rps *float64, total *int64, duration *inputs.Duration) error {
	set := map[string]bool{"format": g.Format != nil, "output": g.Output != nil, "debug": g.Debug != nil, "cpus": g.CPUs != nil,
		"stream-dynamic-messages": g.StreamDynamicMessages != nil, "disable-template-functions": g.DisableTemplateFunctions != nil, "disable-template-data": g.DisableTemplateData != nil}
	g.notes = nil
	for _, n := range notApplied {
		if set[n.key] {
			g.notes = append(g.notes, fmt.Sprintf("ghz option %q accepted but not applied: %s", n.key, n.why))
		}
	}
	if g.CPUs != nil && *g.CPUs < 0 {
		return &inputs.FieldError{Field: "cpus", Value: *g.CPUs, Expected: "a whole number >= 0"}
	}
	if g.Keepalive != nil && g.Keepalive.Duration < 0 {
		return &inputs.FieldError{Field: "keepalive", Value: g.Keepalive.String(), Expected: "a duration >= 0 such as 30s"}
	}
	if g.LBStrategy != "" {
		if err := grpcload.CheckLBPolicy(g.LBStrategy); err != nil {
			return &inputs.FieldError{Field: "lb-strategy", Value: g.LBStrategy, Expected: "a gRPC load-balancing policy such as round_robin or pick_first"}
		}
	}
	x := planExtras{omitErrorLatency: g.CountErrors != nil && !*g.CountErrors}
	if g.MaxDuration != nil {
		if d := g.MaxDuration.Duration; d <= 0 || d > load.MaxRunDuration {
			return &inputs.FieldError{Field: "max-duration", Value: g.MaxDuration.String(), Expected: "a positive duration of at most 168h"}
		}
		x.maxDuration = g.MaxDuration.Duration
	}
	switch stop := load.DurationStop(strings.ToLower(g.DurationStop)); stop {
	case "", load.Wait, load.Close, load.Ignore:
		x.durationStop = stop
	default:
		return &inputs.FieldError{Field: "duration-stop", Value: g.DurationStop, Expected: "close, wait or ignore"}
	}
	rates, err := g.loadSchedule()
	if err != nil {
		return err
	}
	if rates != nil {
		if err := checkRun("load-step", *rates, total, duration); err != nil {
			return err
		}
		x.rates = rates
	}
	if x.workers, err = g.concurrencySchedule(); err != nil {
		return err
	}
	open := x.rates != nil || (rps != nil && *rps > 0)
	if g.Async != nil {
		switch {
		case !*g.Async && open:
			x.noGrowth = true // each connection waits for its answer, as ghz's workers
		case *g.Async && !open:
			g.notes = append(g.notes, "ghz option \"async\" has no effect without a rate (rps or load-schedule): calls are sent as answers return, over concurrency connections")
		}
	}
	g.extras = x
	return nil
}

// scheduleKind checks a ghz schedule name: const (or empty), step or line.
func scheduleKind(field, v string) (string, error) {
	k := strings.ToLower(v)
	if k == "" || slices.Contains([]string{"const", "step", "line"}, k) {
		return k, nil
	}
	return "", &inputs.FieldError{Field: field, Value: v, Expected: "const, step or line"}
}

// loadSchedule returns the rate schedule of load-schedule step or line,
// or nil for const.
func (g *ghzInputs) loadSchedule() (*load.Steps, error) {
	kind, err := scheduleKind("load-schedule", g.LoadSchedule)
	if err != nil || kind == "" || kind == "const" {
		return nil, err
	}
	f := stepFields{"load-start", "load-step", "load-step-duration", "load-end", "load-max-duration"}
	s, err := stepped(f, g.LoadStart, g.LoadStep, g.LoadEnd, g.LoadStepDuration, g.LoadMaxDuration, kind == "line", 0, "calls per second", load.MaxRate)
	if err != nil {
		return nil, err
	}
	return &load.Steps{Stepped: s}, nil
}

// concurrencySchedule returns the workers of concurrency-schedule step or
// line, or nil for const.
func (g *ghzInputs) concurrencySchedule() (*load.Workers, error) {
	kind, err := scheduleKind("concurrency-schedule", g.ConcurrencySchedule)
	if err != nil || kind == "" || kind == "const" {
		return nil, err
	}
	start := g.ConcurrencyStart
	if start == nil {
		one := 1.0 // ghz's default
		start = &one
	}
	for _, v := range []struct {
		field string
		p     *float64
	}{{"concurrency-start", start}, {"concurrency-step", g.ConcurrencyStep}, {"concurrency-end", g.ConcurrencyEnd}} {
		if v.p != nil && *v.p != math.Trunc(*v.p) {
			return nil, &inputs.FieldError{Field: v.field, Value: *v.p, Expected: "a whole number of workers"}
		}
	}
	f := stepFields{"concurrency-start", "concurrency-step", "concurrency-step-duration", "concurrency-end", "concurrency-max-duration"}
	s, err := stepped(f, start, g.ConcurrencyStep, g.ConcurrencyEnd, g.ConcurrencyStepDuration, g.ConcurrencyMaxDuration, kind == "line", 0, "workers", load.MaxConnectionLimit)
	if err != nil {
		return nil, err
	}
	w := &load.Workers{Stepped: s}
	if w.Max() < 1 {
		return nil, &inputs.FieldError{Field: "concurrency-end", Missing: true, Expected: fmt.Sprintf("an end (or concurrency-max-duration) for a schedule that steps up, at most %d workers", load.MaxConnectionLimit)}
	}
	return w, nil
}

// warner is implemented by inputs that accepted options they do not apply.
type warner interface{ warnings() []string }

// Warnings name the inputs the task accepted but does not apply (ghz's
// output options); the runner logs them and the report shows them on the
// task.
func (t *loadTask[E, I]) Warnings() []string {
	if w, ok := any(&t.in).(warner); ok {
		return w.warnings()
	}
	return nil
}

var _ experiment.Warner = (*grpcTask)(nil)

func (in *grpcInputs) warnings() []string { return in.notes }

// recordRun stores ghz's name and tags with the run's load figures.
func (g *ghzInputs) recordRun(in *experiment.Insights, provider string) {
	if ls := in.Load[provider]; ls != nil && (g.Name != "" || len(g.Tags) > 0) {
		ls.Name = g.Name
		if len(g.Tags) > 0 {
			ls.Tags = make(map[string]string, len(g.Tags))
			for k, v := range g.Tags {
				ls.Tags[k] = fmt.Sprint(v)
			}
		}
	}
}
