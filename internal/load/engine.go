package load

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"iter8.tools/iter8/internal/metrics"
)

// Outcome is what one request produced: a protocol status code (HTTP status,
// gRPC code) or, when no status was received, the kind of transport error.
type Outcome struct {
	Code int
	Err  ErrorKind
}

// Conn sends requests one at a time. Each worker owns one Conn, so
// implementations need no locking; Do must return promptly once ctx is done.
type Conn interface {
	Do(ctx context.Context, endpoint int) Outcome
	Close() error
}

// Target makes a Conn per worker.
type Target interface {
	NewConn() Conn
}

// Preconnector is implemented by Conns that can establish their
// connections before the run starts, so that connection set-up (TCP and TLS
// handshakes) is not measured as the latency of the first requests, as wrk and
// fortio do too. A failure is not an error here: the requests will report it.
type Preconnector interface {
	Preconnect(ctx context.Context)
}

// Options configure a run.
type Options struct {
	// Pacer sets the open-loop schedule; nil means closed loop.
	Pacer Pacer
	// Connections bounds the requests in flight (default 1).
	Connections int
	// Requests stops the run after this many requests (0: no limit).
	Requests uint64
	// Duration stops starting requests after this long (0: no limit).
	Duration time.Duration
	// Weights spread requests over endpoints (nil: one endpoint).
	Weights []float64
	// IsError decides which outcomes of an endpoint are errors; by default
	// transport errors.
	IsError func(endpoint int, o Outcome) bool
	// RateTolerance is the shortfall of the achieved rate below the intended
	// rate beyond which an open-loop run is flagged (default 0.01).
	RateTolerance float64
	// Progress, when set, is called about once a second with a snapshot.
	Progress func(Progress)
	// ProgressEvery overrides the progress and monitor interval (tests).
	ProgressEvery time.Duration
	// Monitor, when set, is called about once a second with what happened
	// in the last interval; a non-empty return stops the run with that
	// reason (Report.Stopped).
	Monitor func(Interval) string
}

// Interval is what a run measured over its last monitoring interval.
type Interval struct {
	// End is the time into the run at which the interval ended.
	End      time.Duration
	Length   time.Duration
	Requests int64
	Errors   int64
	InFlight int64
	// Latency holds the interval's latencies (corrected in open loop).
	Latency *metrics.HDR
}

// DelayThreshold is how late an open-loop request may start before it counts
// as delayed for want of a free connection.
const DelayThreshold = time.Millisecond

// Stats are the measurements of one endpoint (or all of them).
type Stats struct {
	Requests int64
	Errors   int64
	// Latency is measured from the intended start in open loop (corrected)
	// and from the actual send in closed loop.
	Latency *metrics.HDR
	// Service is measured from the actual send. In closed loop it is the
	// same histogram as Latency.
	Service *metrics.HDR
	// Codes counts outcomes: status codes as "200", errors by kind.
	Codes map[string]int64
}

// Report is the result of a run.
type Report struct {
	Open      bool
	Endpoints []Stats
	Total     Stats
	Elapsed   time.Duration
	// Sent is the number of requests started.
	Sent    int64
	Delayed int64
	// Unsent counts open-loop requests due within the duration that could
	// not start before it ended (the target kept every connection busy).
	Unsent int64
	// IntendedRate is the pacer's rate (open loop only).
	IntendedRate float64
	AchievedRate float64
	Saturated    bool
	// SaturationReason explains a flagged run.
	SaturationReason string
	// CPUUtilization is the process's CPU use over the run as a fraction of
	// the cores Go may use.
	CPUUtilization float64
	// Stopped says why Monitor stopped the run early, if it did.
	Stopped string
}

// Progress is a live snapshot of a run.
type Progress struct {
	Elapsed  time.Duration
	Total    time.Duration // 0 when bounded by a count
	Requests int64
	Planned  uint64 // 0 when unknown
	Errors   int64
	P99Ms    float64
	Rate     float64
}

// ErrNoConnections is returned for Options with a negative connection count.
var ErrNoConnections = errors.New("load: connections must be at least 1")

// Run executes a load run and returns what it measured. Cancelling ctx stops
// it early; the report then covers the requests that completed.
func Run(ctx context.Context, target Target, o Options) (*Report, error) {
	if o.Connections < 0 {
		return nil, ErrNoConnections
	}
	if o.Connections == 0 {
		o.Connections = 1
	}
	if o.Requests == 0 && o.Duration == 0 {
		return nil, errors.New("load: a run needs a request count or a duration")
	}
	if o.RateTolerance == 0 {
		o.RateTolerance = 0.01
	}
	if o.IsError == nil {
		o.IsError = func(_ int, out Outcome) bool { return out.Err != "" }
	}
	nEP := max(len(o.Weights), 1)
	e := &engine{
		target:   target,
		opts:     o,
		sched:    NewSchedule(o.Weights),
		limit:    o.Requests,
		open:     o.Pacer != nil,
		nEP:      nEP,
		stopping: make(chan struct{}),
	}
	if e.open && o.Duration > 0 {
		n := Count(o.Pacer, o.Duration)
		if e.limit == 0 || n < e.limit {
			e.limit = n
		}
	}
	shards := min(o.Connections, 4*runtime.GOMAXPROCS(0))
	e.shards = make([]*shard, shards)
	for i := range e.shards {
		e.shards[i] = newShard(nEP, e.open, o.Monitor != nil)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg, ready sync.WaitGroup
	begin := make(chan struct{})
	for i := range o.Connections {
		wg.Add(1)
		ready.Add(1)
		go func() {
			defer wg.Done()
			conn := e.target.NewConn()
			defer func() { _ = conn.Close() }()
			if p, ok := conn.(Preconnector); ok {
				p.Preconnect(ctx)
			}
			ready.Done()
			<-begin
			e.worker(ctx, conn, e.shards[i%shards])
		}()
	}
	ready.Wait()
	cpu0 := cpuTime()
	e.start = time.Now()
	close(begin)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	e.watch(ctx, done)
	elapsed := time.Since(e.start)
	cpu := cpuTime() - cpu0
	rep := e.report(elapsed, cpu)
	rep.Stopped = e.stopped
	return rep, nil
}

type engine struct {
	target   Target
	opts     Options
	sched    Schedule
	limit    uint64
	open     bool
	nEP      int
	start    time.Time
	next     atomic.Uint64
	stop     atomic.Bool
	stopping chan struct{}
	shards   []*shard
	stopped  string
	lastTick time.Duration
}

// watch waits for the workers, emitting progress, and tells workers to stop
// when ctx is cancelled.
func (e *engine) watch(ctx context.Context, done <-chan struct{}) {
	var tick <-chan time.Time
	if e.opts.Progress != nil || e.opts.Monitor != nil {
		every := e.opts.ProgressEvery
		if every == 0 {
			every = time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			e.stop.Store(true)
			close(e.stopping)
			<-done
			return
		case <-tick:
			if e.opts.Progress != nil {
				e.opts.Progress(e.progress())
			}
			if e.opts.Monitor != nil {
				if why := e.opts.Monitor(e.interval()); why != "" {
					e.stopped = why
					e.stop.Store(true)
					close(e.stopping)
					<-done
					return
				}
			}
		}
	}
}

func (e *engine) worker(ctx context.Context, conn Conn, sh *shard) {
	var timer *time.Timer
	for !e.stop.Load() {
		n := e.next.Add(1) - 1
		if e.limit > 0 && n >= e.limit {
			return
		}
		ep := e.sched.Pick(n)
		now := time.Since(e.start)
		if e.opts.Duration > 0 && now >= e.opts.Duration {
			// The run's time is up: requests not yet started are not sent,
			// however late the target made them (a run never overruns its
			// duration by more than one request timeout). The report counts
			// them as unsent.
			return
		}
		var intended time.Duration
		delayed := false
		if e.open {
			intended = e.opts.Pacer.At(n)
			if wait := intended - now; wait > 0 {
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-timer.C:
				case <-e.stopping:
					timer.Stop()
					return
				}
				now = time.Since(e.start)
			} else if -wait > DelayThreshold {
				delayed = true
			}
		}
		if e.opts.Monitor != nil {
			sh.inflight.Add(1)
		}
		out := conn.Do(ctx, ep)
		end := time.Since(e.start)
		if e.opts.Monitor != nil {
			sh.inflight.Add(-1)
		}
		if e.stop.Load() && out.Err != "" {
			// Cut short by cancellation: not a measurement of the target.
			return
		}
		sh.record(ep, out, e.opts.IsError(ep, out), now, end, intended, delayed)
	}
}

// maxCode bounds the status codes counted in a fixed array; others use a map.
const maxCode = 600

type epStats struct {
	requests, errors int64
	latency, service *metrics.HDR
	codes            [maxCode]int64
	other            map[string]int64
}

// shard holds the measurements of a few workers. Workers lock their shard
// once per request, uncontended but for a progress snapshot.
type shard struct {
	mu   sync.Mutex
	open bool
	// the current monitoring interval, when monitoring
	win            *metrics.HDR
	winReq, winErr int64
	inflight       atomic.Int64
	ep             []epStats
	sent           int64
	delayed        int64
	lastSend       time.Duration
	lastLag        time.Duration // how late the last-sent request started
}

func newShard(endpoints int, open, monitor bool) *shard {
	s := &shard{open: open, ep: make([]epStats, endpoints)}
	if monitor {
		s.win = metrics.NewHDR()
	}
	for i := range s.ep {
		s.ep[i].service = metrics.NewHDR()
		s.ep[i].latency = s.ep[i].service
		if open {
			s.ep[i].latency = metrics.NewHDR()
		}
		s.ep[i].other = map[string]int64{}
	}
	return s
}

func (s *shard) record(ep int, out Outcome, isErr bool, sent, end, intended time.Duration, delayed bool) {
	s.mu.Lock()
	st := &s.ep[ep]
	st.requests++
	if isErr {
		st.errors++
	}
	switch {
	case out.Err != "":
		st.other[string(out.Err)]++
	case out.Code >= 0 && out.Code < maxCode:
		st.codes[out.Code]++
	default:
		st.other[strconv.Itoa(out.Code)]++
	}
	if out.Err == "" {
		// Latency is that of responses; transport failures are counted, not timed.
		st.service.Record(end - sent)
		if s.open {
			st.latency.Record(end - intended)
		}
		if s.win != nil {
			if s.open {
				s.win.Record(end - intended)
			} else {
				s.win.Record(end - sent)
			}
		}
	}
	if s.win != nil {
		s.winReq++
		if isErr {
			s.winErr++
		}
	}
	s.sent++
	if delayed {
		s.delayed++
	}
	if sent > s.lastSend {
		s.lastSend = sent
		s.lastLag = sent - intended
	}
	s.mu.Unlock()
}

func (e *engine) progress() Progress {
	p := Progress{Elapsed: time.Since(e.start), Total: e.opts.Duration}
	if e.limit > 0 {
		p.Planned = e.limit
	}
	h := metrics.NewHDR()
	for _, sh := range e.shards {
		sh.mu.Lock()
		for i := range sh.ep {
			p.Requests += sh.ep[i].requests
			p.Errors += sh.ep[i].errors
			h.Merge(sh.ep[i].latency)
		}
		sh.mu.Unlock()
	}
	if h.Count() > 0 {
		p.P99Ms = h.PercentileMs(99)
	}
	if s := p.Elapsed.Seconds(); s > 0 {
		p.Rate = float64(p.Requests) / s
	}
	return p
}

// interval collects and resets the shards' monitoring interval.
func (e *engine) interval() Interval {
	now := time.Since(e.start)
	iv := Interval{End: now, Length: now - e.lastTick, Latency: metrics.NewHDR()}
	e.lastTick = now
	for _, sh := range e.shards {
		sh.mu.Lock()
		iv.Latency.Merge(sh.win)
		sh.win.Reset()
		iv.Requests += sh.winReq
		iv.Errors += sh.winErr
		sh.winReq, sh.winErr = 0, 0
		sh.mu.Unlock()
		iv.InFlight += sh.inflight.Load()
	}
	return iv
}

func (e *engine) report(elapsed, cpu time.Duration) *Report {
	r := &Report{Open: e.open, Elapsed: elapsed, Endpoints: make([]Stats, e.nEP)}
	var lastSend, lastLag time.Duration
	for i := range r.Endpoints {
		st := Stats{Service: metrics.NewHDR(), Codes: map[string]int64{}}
		st.Latency = st.Service
		if e.open {
			st.Latency = metrics.NewHDR()
		}
		for _, sh := range e.shards {
			es := &sh.ep[i]
			st.Requests += es.requests
			st.Errors += es.errors
			st.Service.Merge(es.service)
			if e.open {
				st.Latency.Merge(es.latency)
			}
			for code, n := range es.codes {
				if n > 0 {
					st.Codes[strconv.Itoa(code)] += n
				}
			}
			for k, n := range es.other {
				st.Codes[k] += n
			}
		}
		r.Endpoints[i] = st
	}
	for _, sh := range e.shards {
		r.Sent += sh.sent
		r.Delayed += sh.delayed
		if sh.lastSend > lastSend {
			lastSend, lastLag = sh.lastSend, sh.lastLag
		}
	}
	r.Total = mergeStats(r.Endpoints, e.open)
	if e.open && e.limit > 0 && !e.stop.Load() {
		// every request due but not sent, however the workers stopped
		r.Unsent = max(int64(e.limit)-r.Sent, 0)
	}
	if procs := runtime.GOMAXPROCS(0); elapsed > 0 {
		r.CPUUtilization = cpu.Seconds() / elapsed.Seconds() / float64(procs)
	}
	if !e.open {
		if s := elapsed.Seconds(); s > 0 {
			r.AchievedRate = float64(r.Total.Requests) / s
		}
		return r
	}
	// The achieved rate is what was sent over the scheduled time plus how far
	// the schedule had slipped by the last request: on schedule, the
	// intended rate exactly; behind, proportionally less.
	r.IntendedRate = e.opts.Pacer.Rate()
	r.AchievedRate = r.IntendedRate
	if r.Sent > 0 {
		window := float64(r.Sent)/r.IntendedRate + max(lastLag, 0).Seconds()
		if r.Unsent > 0 {
			// the schedule slipped past the end of the run
			window = max(window, elapsed.Seconds())
		}
		r.AchievedRate = float64(r.Sent) / window
	}
	if r.AchievedRate < r.IntendedRate*(1-e.opts.RateTolerance) {
		r.Saturated = true
		r.SaturationReason = saturationReason(r, e.opts.Connections)
	}
	return r
}

func saturationReason(r *Report, conns int) string {
	why := fmt.Sprintf("achieved %.4g req/s of the intended %.4g req/s", r.AchievedRate, r.IntendedRate)
	var causes []string
	if r.Unsent > 0 {
		causes = append(causes, fmt.Sprintf("%d requests due within the duration could not start before it ended", r.Unsent))
	}
	if r.Sent > 0 && float64(r.Delayed)/float64(r.Sent) > 0.01 {
		causes = append(causes, fmt.Sprintf("%d of %d requests waited for one of the %d connections (raise connections, or the target is too slow for this rate)", r.Delayed, r.Sent, conns))
	}
	if r.CPUUtilization > 0.9 {
		causes = append(causes, fmt.Sprintf("the load generator used %.0f%% of its CPU", 100*r.CPUUtilization))
	}
	if len(causes) == 0 {
		return why
	}
	sort.Strings(causes)
	for _, c := range causes {
		why += "; " + c
	}
	return why
}

func mergeStats(eps []Stats, open bool) Stats {
	if len(eps) == 1 {
		return eps[0]
	}
	t := Stats{Service: metrics.NewHDR(), Codes: map[string]int64{}}
	t.Latency = t.Service
	if open {
		t.Latency = metrics.NewHDR()
	}
	for _, s := range eps {
		t.Requests += s.Requests
		t.Errors += s.Errors
		t.Service.Merge(s.Service)
		if open {
			t.Latency.Merge(s.Latency)
		}
		for k, n := range s.Codes {
			t.Codes[k] += n
		}
	}
	return t
}
