package load

import (
	"context"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// perStep counts the requests a pacer makes due in each window of length d,
// up to the given number of windows.
func perStep(p Pacer, d time.Duration, windows int) []int {
	counts := make([]int, windows)
	horizon := time.Duration(windows) * d
	for n := uint64(0); ; n++ {
		at := p.At(n)
		if at >= horizon {
			return counts
		}
		counts[at/d]++
	}
}

// Exact counts in each step of ghz's documented schedules (docs/load.md)
// and of the edge cases: the steps stop at the end rate, or when the max
// duration has elapsed (then at the end rate if one is set), a partial step
// at the max duration, and a step-down that reaches 0.
func TestStepsCounts(t *testing.T) {
	t.Parallel()
	sec := time.Second
	tests := []struct {
		name   string
		s      Stepped
		window time.Duration
		want   []int
	}{
		{"step up to end", Stepped{Start: 50, Step: 10, StepDuration: 5 * sec, End: 80}, 5 * sec, []int{250, 300, 350, 400, 400, 400}},
		{"step down, max duration", Stepped{Start: 200, Step: -10, StepDuration: 5 * sec, MaxDuration: 15 * sec}, 5 * sec, []int{1000, 950, 900, 850, 850}},
		{"line up, unbounded", Stepped{Start: 5, Step: 5, StepDuration: sec}, sec, []int{5, 10, 15, 20, 25, 30, 35}},
		{"line down to end", Stepped{Start: 20, Step: -2, StepDuration: sec, End: 14}, sec, []int{20, 18, 16, 14, 14, 14}},
		{"max duration before end jumps to end", Stepped{Start: 10, Step: 10, StepDuration: sec, End: 100, MaxDuration: 2 * sec}, sec, []int{10, 20, 100, 100}},
		{"partial step at max duration", Stepped{Start: 10, Step: 10, StepDuration: 2 * sec, MaxDuration: 3 * sec}, sec, []int{10, 10, 20, 20, 20}},
		{"end reached mid-step", Stepped{Start: 10, Step: 4, StepDuration: sec, End: 16}, sec, []int{10, 14, 16, 16}},
		{"down to zero", Stepped{Start: 6, Step: -2, StepDuration: sec}, sec, []int{6, 4, 2, 0, 0}},
		{"fractional rates", Stepped{Start: 0.5, Step: 0.5, StepDuration: 4 * sec, End: 2}, 4 * sec, []int{2, 4, 6, 8, 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if err := tt.s.Check(); err != nil {
				t.Fatal(err)
			}
			p := Steps{tt.s}
			if got := perStep(p, tt.window, len(tt.want)); !equalInts(got, tt.want) {
				t.Errorf("requests per %v = %v, want %v", tt.window, got, tt.want)
			}
			var total uint64
			for _, n := range tt.want {
				total += uint64(n)
			}
			if got := Count(p, time.Duration(len(tt.want))*tt.window); got != total {
				t.Errorf("Count = %d, want %d", got, total)
			}
			for n := uint64(1); n < total; n++ {
				if p.At(n) < p.At(n-1) {
					t.Fatalf("At(%d) = %v before At(%d) = %v", n, p.At(n), n-1, p.At(n-1))
				}
			}
		})
	}
}

// Within a step requests are evenly spaced at its rate; the first request
// of a step is due at its start.
func TestStepsSpacing(t *testing.T) {
	t.Parallel()
	p := Steps{Stepped{Start: 4, Step: 4, StepDuration: time.Second, End: 8}}
	want := []time.Duration{0, 250, 500, 750, 1000, 1125, 1250}
	for n, w := range want {
		if got := p.At(uint64(n)); got != w*time.Millisecond {
			t.Errorf("At(%d) = %v, want %v", n, got, w*time.Millisecond)
		}
	}
	if got := p.At(12); got != 2*time.Second {
		t.Errorf("At(12) = %v, want 2s", got)
	}
	// a rate that falls to zero makes nothing due afterwards
	down := Steps{Stepped{Start: 2, Step: -1, StepDuration: time.Second}}
	if got := down.At(3); got != math.MaxInt64 {
		t.Errorf("At past the last request = %v, want the longest duration", got)
	}
	if got := Count(down, time.Hour); got != 3 {
		t.Errorf("Count of a schedule falling to zero = %d, want 3", got)
	}
}

// The large counts of a long run stay exact: the closed form matches a sum
// over steps.
func TestStepsLongRun(t *testing.T) {
	t.Parallel()
	p := Steps{Stepped{Start: 1000, Step: 10, StepDuration: 100 * time.Millisecond}}
	var due float64
	for k := range 36000 { // an hour of steps
		start := time.Duration(k) * p.StepDuration
		n := uint64(math.Round(due))
		if got := p.At(n); got != start {
			t.Fatalf("step %d: At(%d) = %v, want %v", k, n, got, start)
		}
		due += p.raw(float64(k)) * p.StepDuration.Seconds()
	}
}

func TestStepsRates(t *testing.T) {
	t.Parallel()
	up := Steps{Stepped{Start: 50, Step: 10, StepDuration: 5 * time.Second, End: 80}}
	if up.Rate() != 80 {
		t.Errorf("peak rate = %v, want 80", up.Rate())
	}
	// 250+300+350 requests over 15 s
	if got := MeanRate(up, 900); math.Abs(got-60) > 1e-9 {
		t.Errorf("mean rate = %v, want 60", got)
	}
	if got := MeanRate(Constant{PerSecond: 7}, 100); got != 7 {
		t.Errorf("mean rate of a constant pacer = %v, want 7", got)
	}
	down := Steps{Stepped{Start: 200, Step: -10, StepDuration: time.Second}}
	if down.Rate() != 200 {
		t.Errorf("peak of a step down = %v, want 200", down.Rate())
	}
	for _, tt := range []struct {
		t    time.Duration
		want float64
	}{{0, 200}, {999 * time.Millisecond, 200}, {time.Second, 190}, {19 * time.Second, 10}, {20 * time.Second, 0}, {time.Hour, 0}} {
		if got := down.Level(tt.t); got != tt.want {
			t.Errorf("Level(%v) = %v, want %v", tt.t, got, tt.want)
		}
	}
}

func TestSteppedCheck(t *testing.T) {
	t.Parallel()
	bad := []Stepped{
		{Start: 0, Step: 1, StepDuration: time.Second},
		{Start: 1, Step: 0, StepDuration: time.Second},
		{Start: 1, Step: 1},
		{Start: 10, Step: -1, StepDuration: time.Second, End: 20},
		{Start: 10, Step: 1, StepDuration: time.Second, End: 10},
		{Start: 10, Step: 1, StepDuration: time.Second, MaxDuration: -1},
	}
	for _, s := range bad {
		if s.Check() == nil {
			t.Errorf("%+v: no error", s)
		}
	}
}

// The workers active at any time are exactly those whose window holds it.
func TestWorkersWindows(t *testing.T) {
	t.Parallel()
	sec := time.Second
	tests := []struct {
		name string
		w    Workers
		max  int
	}{
		{"step up to end", Workers{Stepped{Start: 5, Step: 5, StepDuration: 5 * sec, End: 50}}, 50},
		{"step down", Workers{Stepped{Start: 10, Step: -3, StepDuration: sec, End: 2}}, 10},
		{"line up, max duration", Workers{Stepped{Start: 1, Step: 2, StepDuration: sec, MaxDuration: 3500 * time.Millisecond}}, 7},
		{"max duration before end jumps to end", Workers{Stepped{Start: 2, Step: 1, StepDuration: sec, End: 9, MaxDuration: 2 * sec}}, 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.w.Max(); got != tt.max {
				t.Fatalf("Max = %d, want %d", got, tt.max)
			}
			for at := time.Duration(0); at < 70*sec; at += 250 * time.Millisecond {
				active := 0
				for i := range tt.max + 2 {
					on, off := tt.w.Window(i)
					if on <= at && at < off {
						active++
					}
				}
				if want := tt.w.At(at); active != want {
					t.Fatalf("at %v: %d workers in their window, want %d", at, active, want)
				}
			}
		})
	}
	if got := (Workers{Stepped{Start: 1, Step: 1, StepDuration: sec}}).Max(); got != -1 {
		t.Errorf("Max of an unbounded ramp = %d, want -1", got)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// countTarget counts calls and the most in flight at once; it answers with
// code, or blocks until ctx is done when block is set.
type countTarget struct {
	conns, calls, inflight, most atomic.Int64
	code                         int
	block                        bool
}

type countConn struct{ t *countTarget }

func (t *countTarget) NewConn() Conn { t.conns.Add(1); return countConn{t} }

func (c countConn) Do(ctx context.Context, _ int) Outcome {
	c.t.calls.Add(1)
	n := c.t.inflight.Add(1)
	defer c.t.inflight.Add(-1)
	for {
		m := c.t.most.Load()
		if n <= m || c.t.most.CompareAndSwap(m, n) {
			break
		}
	}
	if c.t.block {
		<-ctx.Done()
		return Outcome{Err: Canceled}
	}
	runtime.Gosched()
	return Outcome{Code: c.t.code}
}

func (countConn) Close() error { return nil }

// A closed loop with a concurrency schedule opens its peak of connections
// but has only the active workers sending: within a first step of an
// hour, two; a step down from four keeps four.
func TestRunConcurrencySchedule(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		w          Workers
		conns, max int64
	}{
		{Workers{Stepped{Start: 2, Step: 1, StepDuration: time.Hour, End: 5}}, 5, 2},
		{Workers{Stepped{Start: 4, Step: -2, StepDuration: time.Hour, End: 2}}, 4, 4},
	} {
		tg := &countTarget{}
		rep, err := Run(context.Background(), tg, Options{Concurrency: &tt.w, Requests: 300})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Total.Requests != 300 || tg.calls.Load() != 300 || tg.conns.Load() != tt.conns {
			t.Errorf("%+v: %d requests, %d calls over %d connections; want 300 over %d", tt.w, rep.Total.Requests, tg.calls.Load(), tg.conns.Load(), tt.conns)
		}
		if m := tg.most.Load(); m > tt.max {
			t.Errorf("%+v: %d calls in flight at once, want at most %d", tt.w, m, tt.max)
		}
	}
	if _, err := Run(context.Background(), &countTarget{}, Options{Pacer: Steps{Stepped{Start: 2, Step: -1, StepDuration: time.Second}}, Requests: 4}); err == nil {
		t.Error("a count the schedule never makes due: no error")
	}
	if _, err := Run(context.Background(), &countTarget{}, Options{Concurrency: &Workers{Stepped{Start: 1, Step: 1, StepDuration: time.Second}}, Requests: 1}); err == nil {
		t.Error("a concurrency schedule without an end or max duration: no error")
	}
}

// An open loop with a step schedule sends exactly the requests due within
// its duration and reports their mean rate.
func TestRunStepsOpenLoop(t *testing.T) {
	t.Parallel()
	tg := &countTarget{}
	p := Steps{Stepped{Start: 200, Step: 200, StepDuration: 100 * time.Millisecond, End: 600}}
	rep, err := Run(context.Background(), tg, Options{Pacer: p, Connections: 4, MaxConnections: 16, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent+rep.Unsent != 120 || rep.Sent != tg.calls.Load() {
		t.Errorf("sent %d + unsent %d (calls %d), want 20+40+60 = 120 due", rep.Sent, rep.Unsent, tg.calls.Load())
	}
	if math.Abs(rep.IntendedRate-400) > 1e-6 {
		t.Errorf("intended rate %v, want the mean 400", rep.IntendedRate)
	}
}

// count-errors false leaves the latency of error responses out; ghz's
// duration-stop close records the calls in flight at the end as canceled
// errors, ignore drops them, wait (the default) lets them finish.
func TestRunErrorLatencyAndDurationStop(t *testing.T) {
	t.Parallel()
	isErr := func(_ int, o Outcome) bool { return o.Err != "" || o.Code != 0 }
	tg := &countTarget{code: 13}
	rep, err := Run(context.Background(), tg, Options{Requests: 50, IsError: isErr, OmitErrorLatency: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Errors != 50 || rep.Total.Latency.Count() != 0 {
		t.Errorf("%d errors, %d latencies; want 50 errors and no latency", rep.Total.Errors, rep.Total.Latency.Count())
	}
	for _, stop := range []DurationStop{Close, Ignore} {
		tg := &countTarget{block: true}
		rep, err := Run(context.Background(), tg, Options{Connections: 3, Duration: 50 * time.Millisecond, DurationStop: stop, IsError: isErr})
		if err != nil {
			t.Fatal(err)
		}
		want, ignored := int64(3), int64(0)
		if stop == Ignore {
			want, ignored = 0, 3
		}
		if rep.Total.Requests != want || rep.Total.Codes[string(Canceled)] != want || tg.calls.Load() != 3 {
			t.Errorf("%s: %d recorded (codes %v) of %d calls, want %d", stop, rep.Total.Requests, rep.Total.Codes, tg.calls.Load(), want)
		}
		// the requests ignore leaves out are counted, never silently dropped
		if rep.Ignored != ignored {
			t.Errorf("%s: %d ignored, want %d", stop, rep.Ignored, ignored)
		}
	}
}

// An open loop with a concurrency schedule shares its rate among the
// active workers, without growth: one worker for the first hour-long step.
func TestRunConcurrencyScheduleOpenLoop(t *testing.T) {
	t.Parallel()
	tg := &countTarget{}
	w := Workers{Stepped{Start: 1, Step: 1, StepDuration: time.Hour, End: 3}}
	rep, err := Run(context.Background(), tg, Options{Pacer: Constant{PerSecond: 2000}, Concurrency: &w, MaxConnections: 50, Requests: 50})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sent != 50 || tg.calls.Load() != 50 || tg.most.Load() != 1 || rep.Connections != 1 || rep.MaxConnections != 3 {
		t.Errorf("sent %d, calls %d, most in flight %d, connections %d of %d; want 50 calls over 1 active worker of 3", rep.Sent, tg.calls.Load(), tg.most.Load(), rep.Connections, rep.MaxConnections)
	}
}
