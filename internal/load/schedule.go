package load

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Schedules change the load over a run, as ghz's load and concurrency
// schedules do: a level (a rate, or a number of workers) starts at Start and
// changes by Step every StepDuration until it reaches End, or until
// MaxDuration has elapsed, whichever comes first; then it stays constant: at
// End when End is set, otherwise where the steps had brought it. ghz's
// "line" schedule is a step schedule whose steps last one second.

// Stepped is the shape shared by the rate and concurrency schedules.
type Stepped struct {
	// Start is the level of the first step (greater than 0).
	Start float64
	// Step is the change at each step: positive steps up, negative down.
	Step float64
	// StepDuration is how long each step lasts (greater than 0).
	StepDuration time.Duration
	// End is the level at which the steps stop (0: no end). It lies in the
	// direction of Step from Start.
	End float64
	// MaxDuration ends the steps after this long (0: no limit); the level
	// is then End if set.
	MaxDuration time.Duration
}

// Check reports a schedule that cannot be paced; what names the level
// (rate, concurrency) in the error.
func (s Stepped) Check() error {
	switch {
	case !(s.Start > 0) || math.IsInf(s.Start, 0):
		return fmt.Errorf("load: schedule start %g: expected a positive number", s.Start)
	case s.Step == 0 || math.IsNaN(s.Step) || math.IsInf(s.Step, 0):
		return fmt.Errorf("load: schedule step %g: expected a non-zero number", s.Step)
	case s.StepDuration <= 0:
		return fmt.Errorf("load: schedule step duration %v: expected a positive duration", s.StepDuration)
	case s.End < 0 || math.IsNaN(s.End) || math.IsInf(s.End, 0):
		return fmt.Errorf("load: schedule end %g: expected 0 (none) or a positive number", s.End)
	case s.End > 0 && (s.End-s.Start)*s.Step <= 0:
		return fmt.Errorf("load: schedule end %g: expected a level beyond the start %g in the direction of the step %g", s.End, s.Start, s.Step)
	case s.MaxDuration < 0:
		return fmt.Errorf("load: schedule max duration %v: expected 0 (none) or a positive duration", s.MaxDuration)
	}
	return nil
}

// raw is the level of step k before the schedule ends, never below 0.
func (s Stepped) raw(k float64) float64 { return max(s.Start+k*s.Step, 0) }

// final returns when the steps end (math.MaxInt64 when never) and the
// level after that. Before then, step k has level raw(k).
func (s Stepped) final() (time.Duration, float64) {
	end := s.End
	var k float64 // steps until the level reaches end
	switch {
	case end > 0:
		k = math.Ceil((end - s.Start) / s.Step)
	case s.Step < 0:
		k = math.Ceil(s.Start / -s.Step) // the level reaches 0
	default:
		k = math.Inf(1)
	}
	at := time.Duration(math.MaxInt64)
	if f := k * float64(s.StepDuration); f < math.MaxInt64 {
		at = time.Duration(f)
	}
	if s.MaxDuration > 0 && s.MaxDuration < at {
		if end == 0 {
			end = s.raw(math.Floor(float64(s.MaxDuration) / float64(s.StepDuration)))
		}
		return s.MaxDuration, end
	}
	if at == math.MaxInt64 {
		end = math.Inf(1)
	}
	return at, end
}

// Level returns the level at time t into the run.
func (s Stepped) Level(t time.Duration) float64 {
	at, end := s.final()
	if t >= at {
		return end
	}
	return s.raw(math.Floor(float64(t) / float64(s.StepDuration)))
}

// Peak is the highest level of the schedule (the start when it steps
// down; the end, or +Inf without one, when it steps up).
func (s Stepped) Peak() float64 {
	_, end := s.final()
	return max(s.Start, end)
}

// Steps paces requests at a rate (requests per second) that follows a
// stepped schedule. Request n is due when the integral of the rate from the
// start of the run reaches n, computed in closed form: At is a pure
// function of n, and the requests due within each step are exactly its
// rate times its duration (when that is a whole number). A schedule whose
// rate falls to 0 makes no request due after that: At saturates.
type Steps struct {
	Stepped
}

var _ Pacer = Steps{}

// Rate is the schedule's peak rate (+Inf when it steps up without an end
// or a max duration). The engine reports the mean rate of the requests it
// planned (see Varying).
func (p Steps) Rate() float64 { return p.Peak() }

// RateAt is the rate at time t into the run.
func (p Steps) RateAt(t time.Duration) float64 { return p.Level(t) }

// sum is the number of requests due in the first k whole steps (all before
// the end of the steps): D × (k × Start + Step × k(k-1)/2).
func (p Steps) sum(k float64) float64 {
	return p.StepDuration.Seconds() * (k*p.Start + p.Step*k*(k-1)/2)
}

// At returns when request n (0-based) is due.
func (p Steps) At(n uint64) time.Duration {
	at, end := p.final()
	x := float64(n)
	d := float64(p.StepDuration)
	// whole steps before the end of the steps, and the requests due in them
	// and in the partial step before it
	whole := math.Floor(float64(at) / d)
	before := math.Inf(1)
	if at < math.MaxInt64 {
		before = p.sum(whole) + (float64(at)-whole*d)/1e9*p.raw(whole)
	}
	if x >= before {
		if end <= 0 {
			return math.MaxInt64
		}
		return saturate(float64(at) + (x-before)/end*1e9)
	}
	// Solve sum(k) = x for the step k holding request n, then correct the
	// rounding of the root by whole steps.
	a, b := p.Step/2, p.Start-p.Step/2
	disc := max(b*b+4*a*x/p.StepDuration.Seconds(), 0)
	k := math.Floor((-b + math.Sqrt(disc)) / (2 * a))
	if math.IsNaN(k) || k < 0 {
		k = 0
	}
	k = min(k, whole)
	for k > 0 && p.sum(k) > x {
		k--
	}
	for k < whole && p.sum(k+1) <= x {
		k++
	}
	return saturate(k*d + (x-p.sum(k))/p.raw(k)*1e9)
}

// saturate converts nanoseconds to a Duration, at most the longest.
func saturate(ns float64) time.Duration {
	f := math.Round(ns)
	if !(f < math.MaxInt64) {
		return math.MaxInt64
	}
	return time.Duration(f)
}

// Varying is implemented by pacers whose rate changes over a run. Their
// Rate is the peak rate; the engine checks the range of the rate at the
// start, grows connections for the rate of the moment, and reports the
// mean rate of the requests it planned (MeanRate).
type Varying interface {
	Pacer
	// RateAt is the rate at time t into the run.
	RateAt(t time.Duration) float64
}

// rateAt is a pacer's rate at time t into the run.
func rateAt(p Pacer, t time.Duration) float64 {
	if v, ok := p.(Varying); ok {
		return v.RateAt(t)
	}
	return p.Rate()
}

// MeanRate is the rate at which a pacer makes n requests due: n over the
// time the n-th is due for a Varying pacer, Rate otherwise.
func MeanRate(p Pacer, n uint64) float64 {
	v, ok := p.(Varying)
	if !ok {
		return p.Rate()
	}
	if at := p.At(n); n > 0 && at > 0 && at < math.MaxInt64 {
		return float64(n) / at.Seconds()
	}
	return v.RateAt(0)
}

// DurationStop says what happens to requests in flight when a run's
// duration ends (ghz's duration-stop).
type DurationStop string

// The DurationStop choices.
const (
	// Wait lets requests in flight finish and records them (the default).
	Wait DurationStop = "wait"
	// Close cancels them; they are recorded as errors (canceled).
	Close DurationStop = "close"
	// Ignore cancels them and records nothing of them.
	Ignore DurationStop = "ignore"
)

// checkSchedules validates the options of schedule.go.
func (o *Options) checkSchedules() error {
	if s, ok := o.Pacer.(Steps); ok {
		if err := s.Check(); err != nil {
			return err
		}
	}
	if _, ok := o.Pacer.(Varying); ok && o.Requests > 0 && o.Duration == 0 && o.Pacer.At(o.Requests-1) == math.MaxInt64 {
		return fmt.Errorf("load: the schedule makes %d of the %d requests due: expected a rate that lasts, or a duration", Count(o.Pacer, math.MaxInt64), o.Requests)
	}
	if w := o.Concurrency; w != nil {
		if err := w.Check(); err != nil {
			return err
		}
		if m := w.Max(); m < 1 {
			return fmt.Errorf("load: concurrency schedule: expected an end or a max duration, and at most %d workers", MaxConnectionLimit)
		}
	}
	switch o.DurationStop {
	case "", Wait, Close, Ignore:
		return nil
	}
	return fmt.Errorf("load: duration stop %q: expected wait, close or ignore", o.DurationStop)
}

// inactive is the number of initial workers that a concurrency schedule
// keeps waiting at the start.
func (e *engine) inactive() int {
	n := 0
	if w := e.opts.Concurrency; w != nil {
		for i := range e.initial {
			if on, _ := w.Window(i); on > 0 {
				n++
			}
		}
	}
	return n
}

// await waits until worker i's window of a concurrency schedule opens and
// returns when it closes (math.MaxInt64 without a schedule); ok is false
// when the worker is never active or the run stopped first.
func (e *engine) await(i int, timer **time.Timer) (off time.Duration, ok bool) {
	w := e.opts.Concurrency
	if w == nil {
		return math.MaxInt64, true
	}
	on, off := w.Window(i)
	if on == math.MaxInt64 || (e.opts.Duration > 0 && on >= e.opts.Duration) {
		return 0, false
	}
	if d := on - time.Since(e.start); d > 0 {
		*timer = time.NewTimer(d)
		select {
		case <-(*timer).C:
		case <-e.stopping:
			(*timer).Stop()
			return 0, false
		case <-e.drained:
			(*timer).Stop()
			return 0, false
		}
	}
	if e.open && on > 0 {
		e.idle.Add(1)
	}
	return off, true
}

// drain tells workers waiting for their window that no request is left.
func (e *engine) drain() { e.drainOnce.Do(func() { close(e.drained) }) }

// within reports whether a worker whose window closes at off may claim
// another request; a worker that may not leaves the idle count.
func (e *engine) within(off time.Duration) bool {
	if off == math.MaxInt64 || time.Since(e.start) < off {
		return true
	}
	if e.open {
		e.idle.Add(-1)
	}
	return false
}

// durationStop arranges for requests in flight when the duration ends to be
// cancelled (DurationStop close or ignore) and returns the cleanup.
func (e *engine) durationStop(ctx context.Context) func() {
	if e.opts.Duration == 0 || e.opts.DurationStop == "" || e.opts.DurationStop == Wait {
		return func() {}
	}
	reqCtx, cancel := context.WithCancel(ctx)
	e.reqCtx = reqCtx
	t := time.AfterFunc(e.opts.Duration-time.Since(e.start), cancel)
	return func() { t.Stop(); cancel() }
}

// requestContext is the context of requests: the run's, or one that the
// end of the duration cancels (see durationStop).
func (e *engine) requestContext(ctx context.Context) context.Context {
	if e.reqCtx != nil {
		return e.reqCtx
	}
	return ctx
}

// ignored reports whether a request that ended at end is left out of the
// report (DurationStop ignore).
func (e *engine) ignored(end time.Duration) bool {
	if e.opts.DurationStop == Ignore && e.opts.Duration > 0 && end >= e.opts.Duration {
		e.dropped.Add(1)
		return true
	}
	return false
}

// Workers is a number of workers (connections of a closed loop, each with
// one request at a time) that follows a stepped schedule, as ghz's
// concurrency schedule. Levels are whole numbers of workers.
type Workers struct {
	Stepped
}

// At is the number of workers active at t.
func (w Workers) At(t time.Duration) int { return int(w.Level(t)) }

// Max is the most workers active at once. A schedule that steps up without
// an end or a max duration has no maximum: Max returns -1.
func (w Workers) Max() int {
	p := w.Peak()
	if math.IsInf(p, 1) || p > MaxConnectionLimit {
		return -1
	}
	return int(p)
}

// Window returns when worker i (0-based) is active: from on until off
// (math.MaxInt64: never). A worker that is never active has on ==
// math.MaxInt64. The schedule is monotonic, so each worker has one window.
func (w Workers) Window(i int) (on, off time.Duration) {
	never := time.Duration(math.MaxInt64)
	x := float64(i + 1) // worker i is active while the level is at least x
	if w.Step > 0 {
		// the first step whose level reaches x
		return w.first(math.Ceil((x-w.Start)/w.Step), func(l float64) bool { return l >= x }), never
	}
	if w.Start < x {
		return never, never
	}
	// the first step whose level is below x
	return 0, w.first(math.Floor((w.Start-x)/-w.Step)+1, func(l float64) bool { return l < x })
}

// first returns when step k starts if the steps have not ended by then,
// otherwise when they end if the final level satisfies cond, otherwise
// math.MaxInt64 (never).
func (w Workers) first(k float64, cond func(float64) bool) time.Duration {
	at, end := w.final()
	if t := max(k, 0) * float64(w.StepDuration); t < float64(at) {
		return time.Duration(t)
	}
	if at < math.MaxInt64 && cond(end) {
		return at
	}
	return math.MaxInt64
}
