package load

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
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
	// At is when the answer arrived, when the Conn knows it more precisely
	// than the return of Do or Collect does (the kernel's receive
	// timestamp of its last bytes): the generator's own wake-up after the
	// answer arrived is then not measured as the target's service time.
	// Zero: when Do or Collect returned.
	At time.Time
	// Sent is when the request left, when the Conn first spent time
	// preparing it (rendering a data template): that time is the
	// generator's, not the target's. Zero: when Do was called.
	Sent time.Time
	// Replayed is set when the request was sent again over a new
	// connection after the one that carried it closed or reset without
	// an answer, though the request may have reached the server (an
	// idempotent request, as net/http's Transport replays it). Its
	// outcome is that of the second send.
	Replayed bool
}

// Conn sends requests one at a time. Each worker owns one Conn, so
// implementations need no locking; Do must return promptly once ctx is done.
type Conn interface {
	Do(ctx context.Context, endpoint int) Outcome
	Close() error
}

// Deferrer is implemented by Conns that can send a request and collect its
// answer later. In open loop, when the target answers well within the time
// until a worker's next request is due, the worker sends a request, claims
// its next one, sleeps until that is due and only then collects the answer,
// whose arrival time the Conn takes from the kernel (Outcome.At): the
// generator then wakes once per request (its due time) instead of twice (its
// due time and the answer), which halves the wake-ups of an idle generator
// at evenly spaced arrivals.
type Deferrer interface {
	// Send sends a request to endpoint without waiting for its answer
	// (done false). When the request is over already (it could not be
	// sent) or the Conn cannot defer its answer now, Send makes the
	// whole request as Do does and returns its outcome with done true.
	Send(ctx context.Context, endpoint int) (out Outcome, done bool)
	// Collect waits for the answer to the request Send left open, until
	// its timeout, and returns its outcome.
	Collect(ctx context.Context) Outcome
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
	// Connections is the number of connections opened before the clock
	// starts (default 1), never more than the run has requests. In closed
	// loop it is fixed; in open loop connections grow on demand up to
	// MaxConnections.
	Connections int
	// MaxConnections caps the open-loop growth of connections (default
	// Connections: no growth). A new connection is opened when every
	// connection is busy and the measured service time says the rate needs
	// more; a run that needed more than the cap is connection-bound.
	MaxConnections int
	// Timeout is the request timeout: a request that timed out is recorded
	// in the latency histograms at no less than it (a lower bound).
	Timeout time.Duration
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
	// rate beyond which an open-loop run is behind schedule (default 0.01).
	// It is judged in time: see Behind.
	RateTolerance float64
	// Progress, when set, is called about once a second with a snapshot.
	Progress func(Progress)
	// ProgressEvery overrides the progress and monitor interval (tests).
	ProgressEvery time.Duration
	// Shard makes this run one generator's part of a run shared by
	// several (distributed load): it sends only its requests of the one
	// global schedule (see Shard). The zero value sends them all.
	Shard Shard
	// StartAt, when set, is the common start of the generators sharing a
	// run: the clock of the schedule starts then, whenever this one is
	// ready (one that is ready later is behind its share from the start).
	StartAt time.Time
	// Monitor, when set, is called about once a second with what happened
	// in the last interval; a non-empty return stops the run with that
	// reason (Report.Stopped).
	Monitor func(Interval) string

	// Schedules and ghz's options (schedule.go).

	// Concurrency, when set, changes the number of active workers over the
	// run (ghz's concurrency schedule): its Max connections are opened,
	// and worker i sends requests only within its Window, with no growth.
	Concurrency *Workers
	// OmitErrorLatency leaves the latency of responses that are errors out
	// of the histograms (ghz's count-errors: false); requests that timed
	// out stay in (slowness is never hidden).
	OmitErrorLatency bool
	// DurationStop says what happens to requests in flight when Duration
	// ends (ghz's duration-stop); the default waits for them.
	DurationStop DurationStop
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

// Ranges of the options, checked by Run and documented for users.
const (
	// MinRate and MaxRate bound an open-loop rate in requests per second.
	MinRate = 0.001
	MaxRate = 1e6
	// MaxConnectionLimit bounds Connections and MaxConnections.
	MaxConnectionLimit = 10000
	// MaxRunDuration bounds Duration.
	MaxRunDuration = 7 * 24 * time.Hour
	// MaxRequestCount bounds Requests.
	MaxRequestCount = 1 << 40
)

// LagFloor is the median generator lateness that a run is always allowed
// (up to a quarter of its span): scheduling noise on a busy CI machine (a
// process that waits tens of milliseconds for a core) is not a shortfall.
// The target is not charged for it either (see Report.GeneratorLag).
const LagFloor = 100 * time.Millisecond

// MinLagFloor is the median lateness even the shortest run is allowed (a
// single request has a span of 0): Go's timers may wake a millisecond or
// more late, and a run of a few requests cannot fall behind a schedule
// measured in microseconds.
const MinLagFloor = 5 * time.Millisecond

// Behind reports whether a run whose median request started lateness late
// fell behind a schedule of span (the time from the first due request to
// the last) with the given rate tolerance. A generator that achieves a
// fraction 1-s of its rate starts the median request about s*span/2 late,
// so the rule matches a rate shortfall of tolerance on long runs; on short
// runs the floor min(LagFloor, max(span/4, MinLagFloor)) absorbs scheduling noise, so that a
// single late request in a 16-request run does not flag it, while a run
// asked for far more than the generator can send is still late by a large
// part of its span.
func Behind(lateness, span time.Duration, tolerance float64) bool {
	return lateness > Allowed(span, tolerance)
}

// Allowed is the median lateness a run of span may have (see Behind).
func Allowed(span time.Duration, tolerance float64) time.Duration {
	return max(time.Duration(tolerance*float64(span)/2), min(LagFloor, max(span/4, MinLagFloor)))
}

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
	// TimedOut counts requests that got no answer within their timeout.
	// They are in both histograms at their elapsed time, at least the
	// timeout: these samples are lower bounds.
	TimedOut int64
	// Replayed counts requests sent again after their connection closed
	// without an answer (see Outcome.Replayed).
	Replayed int64
	// Delayed, Unsent and UnsentHeld are the endpoint's share of the
	// run's (see Report): requests that waited for a free connection, and
	// requests due that were never sent, those that waited for a
	// connection the target held among them. In a mix, one endpoint's
	// hang holds the connections the others' requests wait for: each
	// endpoint's figures say whose requests waited.
	Delayed, Unsent, UnsentHeld int64
}

// Report is the result of a run.
type Report struct {
	Open      bool
	Endpoints []Stats
	Total     Stats
	Elapsed   time.Duration
	// Sent is the number of requests started.
	Sent int64
	// Delayed counts open-loop requests that waited more than
	// DelayThreshold for a free connection.
	Delayed int64
	// Unsent counts open-loop requests due within the duration (or before
	// Monitor stopped the run) that could not start before it ended. They
	// count as late in Lateness, which judges the run; they are never
	// silently dropped.
	Unsent int64
	// IntendedRate is the pacer's rate (open loop only).
	IntendedRate float64
	AchievedRate float64
	// Connections is the most connections the run used; in open loop it
	// grows on demand from InitialConnections (those opened before the
	// clock started) up to MaxConnections.
	Connections        int
	InitialConnections int
	MaxConnections     int
	// Lateness is the median of how late requests started after they were
	// due (unsent requests count as later than any sent one), whatever the
	// cause; AllowedLateness is what the run may have (see Behind).
	Lateness        time.Duration
	AllowedLateness time.Duration
	// GeneratorLag is the generator's own lateness: how late requests
	// started after they were due while a connection was free (timer
	// wake-ups, CPU). It is not charged to the target's latency.
	GeneratorLag *metrics.HDR
	// ConnectionBound is set when the run fell behind because every
	// connection up to MaxConnections was busy with the target: the target
	// is too slow for the rate at that cap. Its latency shows it (waits
	// for a connection are charged to the target); a warning, not an
	// invalid run. Warning explains it.
	ConnectionBound bool
	Warning         string
	// GeneratorLateness is the median of the part of each request's
	// lateness that the target does not explain (see GeneratorLag), unsent
	// requests included: the generator's own.
	GeneratorLateness time.Duration
	// UnsentHeld counts the unsent requests that waited for a connection
	// the target held: they are in the latency at that wait, as lower
	// bounds (see unsentWaits).
	UnsentHeld int64
	// Ignored counts the requests in flight when the duration ended that
	// DurationStop ignore left out of every figure.
	Ignored int64
	// Saturated is set when the generator fell behind its schedule while
	// connections were free (its CPU or scheduling): SLO verdicts on the
	// run are invalid. SaturationReason explains it.
	Saturated        bool
	SaturationReason string
	// CPUUtilization is the process's CPU use over the run as a fraction of
	// the cores Go may use.
	CPUUtilization float64
	// CPUWait is how long the process's threads were ready to run but
	// waited for a CPU (other processes had it), on the same scale as
	// CPUUtilization; 0 where it is not measured (outside Linux).
	CPUWait float64
	// Stopped says why Monitor stopped the run early, if it did.
	Stopped string
	// StartLag is how long after Options.StartAt the run was ready to
	// send (its connections open): a generator's share of the start skew.
	StartLag time.Duration
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

// check validates the options against the documented ranges.
func (o *Options) check() error {
	switch {
	case o.Connections < 0:
		return ErrNoConnections
	case o.Connections > MaxConnectionLimit:
		return fmt.Errorf("load: connections %d: expected at most %d", o.Connections, MaxConnectionLimit)
	case o.MaxConnections < 0 || o.MaxConnections > MaxConnectionLimit:
		return fmt.Errorf("load: maxConnections %d: expected 0 to %d", o.MaxConnections, MaxConnectionLimit)
	case o.Requests == 0 && o.Duration == 0:
		return errors.New("load: a run needs a request count or a duration")
	case o.Requests > MaxRequestCount:
		return fmt.Errorf("load: requests %d: expected at most %d", o.Requests, uint64(MaxRequestCount))
	case o.Duration < 0 || o.Duration > MaxRunDuration:
		return fmt.Errorf("load: duration %v: expected a positive duration of at most %v", o.Duration, MaxRunDuration)
	case o.Shard.Count < 0 || o.Shard.Count > MaxShards || o.Shard.Index < 0 || (o.Shard.Index > 0 && o.Shard.Index >= o.Shard.Count):
		return fmt.Errorf("load: shard %d of %d: expected an index from 0 to count-1 and a count of at most %d", o.Shard.Index, o.Shard.Count, MaxShards)
	}
	if err := o.checkSchedules(); err != nil {
		return err
	}
	if o.Pacer != nil {
		if r := rateAt(o.Pacer, 0); !(r >= MinRate && r <= MaxRate) {
			return fmt.Errorf("load: rate %g req/s: expected %g to %g", r, MinRate, MaxRate)
		}
	}
	return nil
}

// Run executes a load run and returns what it measured. Cancelling ctx stops
// it early, within about one request's send (workers waiting for their due
// time stop at once); the report then covers the requests that completed.
func Run(ctx context.Context, target Target, o Options) (*Report, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.Concurrency != nil {
		o.Connections, o.MaxConnections = o.Concurrency.Max(), 0
	}
	if o.Connections == 0 {
		o.Connections = 1
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
		drained:  make(chan struct{}),
	}
	if e.open && o.Duration > 0 {
		n := Count(o.Pacer, o.Duration)
		if e.limit == 0 || n < e.limit {
			e.limit = n
		}
	}
	if e.limit > 0 {
		e.limit = o.Shard.Requests(e.limit)
	}
	if e.open && e.limit == 0 {
		// nothing is due within the duration
		return &Report{Open: true, IntendedRate: e.rateAt(0), GeneratorLag: metrics.NewHDR(),
			Total:     Stats{Latency: metrics.NewHDR(), Service: metrics.NewHDR(), Codes: map[string]int64{}},
			Endpoints: []Stats{{Latency: metrics.NewHDR(), Service: metrics.NewHDR(), Codes: map[string]int64{}}}}, nil
	}
	// A run never opens more connections than it has requests.
	initial := o.Connections
	if e.limit > 0 && uint64(initial) > e.limit {
		initial = int(e.limit)
	}
	e.initial, e.maxConns = initial, initial
	if e.open {
		e.maxConns = max(initial, o.MaxConnections)
		if e.limit > 0 && uint64(e.maxConns) > e.limit {
			e.maxConns = int(e.limit)
		}
	}
	if e.open {
		e.since = make([]atomic.Int64, e.maxConns)
	}
	shards := min(e.maxConns, 4*runtime.GOMAXPROCS(0))
	e.shards = make([]*shard, shards)
	for i := range e.shards {
		e.shards[i] = newShard(nEP, e.open, o.Monitor != nil)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var ready sync.WaitGroup
	begin := make(chan struct{})
	e.workers.Store(int64(initial))
	e.peak.Store(int64(initial))
	e.idle.Store(int64(initial - e.inactive()))
	for i := range initial {
		e.wg.Add(1)
		ready.Add(1)
		go func() {
			defer e.wg.Done()
			conn := e.dial(ctx)
			defer func() { _ = conn.Close() }()
			ready.Done()
			select {
			case <-begin:
			case <-ctx.Done():
				return
			}
			e.worker(ctx, conn, e.shards[i%shards], i, heldLog{})
		}()
	}
	ready.Wait()
	e.start = time.Now()
	var startLag time.Duration
	if !o.StartAt.IsZero() {
		startLag = max(e.start.Sub(o.StartAt), 0)
		if err := waitUntil(ctx, o.StartAt); err != nil {
			cancel()
			e.wg.Wait()
			return nil, err
		}
		e.start = o.StartAt
	}
	cpu0, wait0 := cpuTime(), runWait()
	if o.Monitor != nil {
		// an abort ends the requests in flight at once, rather than at
		// their timeouts (see finish)
		var cutCtx context.Context
		cutCtx, e.cutShort = context.WithCancel(ctx)
		e.reqCtx = cutCtx
		defer e.cutShort()
	}
	defer e.durationStop(e.requestContext(ctx))()
	if e.open && o.Concurrency == nil && e.maxConns > initial {
		e.wg.Add(1)
		go e.watchHangs(ctx)
	}
	close(begin)
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	e.watch(ctx, done)
	elapsed := time.Since(e.start)
	cpu, wait := cpuTime()-cpu0, runWait()-wait0
	rep := e.report(elapsed, cpu, wait)
	rep.Stopped = e.stopped
	rep.StartLag = startLag
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
	// reqCtx is the context of requests (see durationStop); drained is
	// closed when the last request was claimed (see drain).
	reqCtx context.Context
	// cutShort cancels the requests in flight when Monitor stops the run,
	// and cut is set just before (see finish).
	cutShort context.CancelFunc
	cut      atomic.Bool
	// stopAt is when Monitor stopped the run, as time into it.
	stopAt    time.Duration
	drained   chan struct{}
	drainOnce sync.Once
	// dropped counts requests sent but left out (DurationStop ignore).
	dropped atomic.Int64

	wg       sync.WaitGroup
	initial  int
	maxConns int
	// workers is the number of workers started, peak the most at once,
	// idle those not in a request (each holds the claim of a future
	// request or is about to take one).
	workers, peak, idle atomic.Int64
	// capHit is set when a connection was needed beyond maxConns.
	capHit atomic.Bool
	// svcMedian estimates the median service time (ns), for growth: a
	// median, so that the generator's own stalls (which inflate a few
	// service times) do not open connections.
	svcMedian atomic.Int64
	// svcMean is a moving mean (ns) of how long requests held their
	// connections, answers, timeouts and errors alike, for growth:
	// Little's law needs the mean, and a slow tail (1 request in 20 taking
	// 500 ms) holds connections that the median does not see.
	svcMean   atomic.Int64
	completed atomic.Int64
	// finished counts the requests recorded, answered or not: 32 of them
	// (errors, timeouts and refusals alike) let the service time govern
	// growth, so a target that only fails does not grow connections.
	finished atomic.Int64
	// since[i] is when worker i sent the request it is in (ns since start,
	// plus 1), 0 while it is in none (open loop; see heldLong).
	since []atomic.Int64
	// lastFast is when the latest request that held its connection no
	// longer than longHeld ended (ns since start; open loop).
	lastFast atomic.Int64
	// frees are the workers' heldLog.free when they stopped, and abandoned
	// the (global) numbers of requests claimed but not sent because the
	// run's time was up (open loop; see unsentWaits).
	endMu     sync.Mutex
	frees     []time.Duration
	abandoned []uint64
	// endOnce runs flush once.
	endOnce sync.Once
	// noDefer is set when a deferred answer had not arrived when its
	// worker's next request was due: no answer is deferred for the rest
	// of the run (see settle).
	noDefer atomic.Bool
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
					e.stopped, e.stopAt = why, time.Since(e.start)
					e.cut.Store(true)
					e.stop.Store(true)
					close(e.stopping)
					e.cutShort()
					<-done
					return
				}
			}
		}
	}
}

// grow starts one more open-loop worker when every worker is busy, the cap
// allows it, and the rate needs it. Before minSamples requests finished
// there is no service time yet, and every busy worker opens one: a target
// slow from its first request needs its connections then. After, the
// service time says what the rate needs (Little's law: rate × mean service
// time connections are busy on average; twice that, plus two, absorbs
// bursts; the larger of the median and the moving mean, so that a slow
// tail counts). The governor keeps a generator short of CPU, which finds
// every connection busy with its own lateness, from opening connections
// that would not help, and a burst of requests after a hiccup of the
// machine from opening one per request.
//
// Service times lag a slow tail, though: with 1 answer in 20 taking 500 ms
// at 1,000 req/s, no slow answer completes in the first 500 ms while 25
// come to be in flight, and fast requests queued behind them. So the
// requests in flight that the target has held long (see heldLong) add to
// the need, when the generator is punctual (lag, its own lateness in
// sending the request that found no worker free, is at most growLag).
//
// held is the account of the worker that found no other free: the new
// worker starts from it, as it takes over that worker's queue, with the
// connection's set-up as held time after it. A request due before the new
// connection existed waited as that worker's would have (all held through
// a stall of the target: the wait is the target's), and one due when that
// worker's connection would have been free is charged no more than the
// set-up (a generator short of CPU finds every connection busy with its
// own lateness, which is not the target's).
func (e *engine) grow(ctx context.Context, held *heldLog, lag time.Duration) {
	var i int // the new worker's index
	for {
		w := e.workers.Load()
		if w >= int64(e.maxConns) {
			e.capHit.Store(true)
			return
		}
		if svc := max(e.svcMedian.Load(), e.svcMean.Load()); e.finished.Load() >= minSamples {
			need := e.rateAt(time.Since(e.start)) * time.Duration(svc).Seconds()
			limit := 2*need + 2
			if float64(w) >= limit && lag <= growLag {
				limit += float64(e.heldLong(int(w)))
			}
			if float64(w) >= limit {
				return
			}
		}
		if e.workers.CompareAndSwap(w, w+1) {
			casMax(&e.peak, w+1)
			i = int(w)
			break
		}
	}
	e.idle.Add(1)
	e.wg.Add(1) // the calling worker holds the group open
	log := *held
	go func() {
		defer e.wg.Done()
		born := time.Since(e.start)
		conn := e.dial(ctx)
		defer func() { _ = conn.Close() }()
		log.add(0, born, time.Since(e.start)) // (due at once: after log.free)
		e.worker(ctx, conn, e.shards[i%len(e.shards)], i, log)
	}()
}

// dial makes a worker's Conn and, when it can, connects it before its
// first request, so that set-up is not measured as that request's latency.
func (e *engine) dial(ctx context.Context) Conn {
	conn := e.target.NewConn()
	if p, ok := conn.(Preconnector); ok {
		p.Preconnect(ctx)
	}
	return conn
}

// worker sends requests over conn; i is its index (for a concurrency
// schedule), and held its account of the time the target held it (see grow).
func (e *engine) worker(ctx context.Context, conn Conn, sh *shard, i int, held heldLog) {
	var timer *time.Timer
	off, ok := e.await(i, &timer)
	if !ok {
		return
	}
	ctx = e.requestContext(ctx)
	var df Deferrer
	if e.open && e.opts.Concurrency == nil && e.opts.Monitor == nil && (e.opts.DurationStop == "" || e.opts.DurationStop == Wait) {
		// (a request the duration's end cuts short must be in flight, not
		// an answer waiting to be collected; a monitor must see which
		// requests are in flight, and a deferred one may not be)
		df, _ = conn.(Deferrer)
	}
	// p is a request sent by df whose answer is not yet collected; it is
	// collected before the next request or when the worker stops (after a
	// cancellation its answer is not recorded, as a request in flight is
	// not).
	var p deferred
	if e.open {
		// (after the collection below: deferred calls run last first)
		defer func() { e.addFree(held.free) }()
	}
	defer func() {
		if p.open {
			if end, ok := e.collect(ctx, df, sh, &p); ok {
				held.add(p.intended, p.sent, end)
			}
		}
	}()
	for !e.stop.Load() && e.within(off) {
		claim := time.Since(e.start)
		if e.open && e.pastEnd(claim) {
			// The duration is over: what is sent of the requests still
			// due is the flush's to decide, once (see flush). A worker
			// freed by a stalled target just after the end used to claim
			// one before the end's timer ran the flush, and leave it
			// unsent, held, where no error-rate SLO sees it.
			e.flush(ctx, 1)
			return
		}
		n := e.next.Add(1) - 1
		if e.limit > 0 && n >= e.limit {
			e.drain()
			return
		}
		n = e.opts.Shard.global(n)
		ep := e.sched.Pick(n)
		if e.timeUp(n, claim) {
			return // (closed loop)
		}
		var intended, wait time.Duration
		sent := claim
		if e.open {
			intended = e.opts.Pacer.At(n)
			onTime := intended > claim
			// A request claimed while an answer was deferred was claimed
			// right after the send, before the target could answer.
			claimedDeferred := p.open
			if p.open && (intended-p.sent > maxDeferGap || (e.opts.Timeout > 0 && intended-p.sent >= e.opts.Timeout/2)) {
				// this request is due too long after the deferred one was
				// sent to leave its answer unread until then (a falling
				// rate, a long Poisson gap; see maxDeferGap)
				if !e.settle(ctx, df, sh, &p, &held, intended, false) {
					return
				}
				// collected: the request is claimed now, as any other
				// after an answer (a wait past its due time was the
				// target's, held)
				claim = time.Since(e.start)
				sent, onTime, claimedDeferred = claim, intended > claim, false
				if e.timeUp(n, claim) {
					return
				}
			}
			if d := intended - claim; d > 0 {
				if timer == nil {
					timer = time.NewTimer(d)
				} else {
					timer.Reset(d)
				}
				select {
				case <-timer.C:
				case <-e.stopping:
					timer.Stop()
					return
				}
				sent = time.Since(e.start)
			}
			if e.idle.Add(-1) == 0 {
				// (the generator's own lateness in sending this request:
				// after it was due and the connection would have been
				// free, see heldLog)
				e.grow(ctx, &held, max(sent-max(intended, held.free), 0))
			}
			if p.open {
				if !e.settle(ctx, df, sh, &p, &held, intended, onTime) {
					e.idle.Add(1)
					return
				}
				sent = time.Since(e.start)
				if e.timeUp(n, sent) {
					// (the deferred answer came after the run's time was
					// up: a stalled target held it until its timeout)
					e.idle.Add(1)
					return
				}
			}
			switch {
			case claimedDeferred && onTime:
				// A deferred answer not yet in when this request was due
				// delayed it by the generator's choice (another connection
				// may have been free): that lateness is the generator's,
				// and settle ended deferral for the run if the answer
				// showed a stall (see stalled). (Deferral needs a target
				// whose mean answer is fast, so a stall that catches one
				// is rare: see deferrable.)
			case claim > intended || sent > intended:
				// The time after this request was due until the
				// connection would have been free for a punctual
				// generator (a queue behind a slow target) is a wait for
				// the target: no connection was free. The generator's
				// own lateness is its own (see heldLog).
				wait = min(held.wait(intended), sent-intended)
			}
		}
		if e.opts.Monitor != nil {
			sh.inflight.Add(1)
		}
		sm := sample{sent: sent, intended: intended, wait: wait}
		if e.open {
			e.since[i].Store(int64(sent) + 1)
		}
		var out Outcome
		if df != nil && e.deferrable(sent) {
			var done bool
			if out, done = df.Send(ctx, ep); !done {
				p = deferred{open: true, ep: ep, sample: sm}
				e.since[i].Store(0) // (a fast target's answer, read later)
				e.idle.Add(1)
				continue
			}
		} else {
			out = conn.Do(ctx, ep)
		}
		if e.open {
			e.since[i].Store(0)
			e.idle.Add(1)
		}
		end, ok := e.finish(sh, ep, out, sm)
		if !ok {
			return
		}
		if e.open {
			if !out.Sent.IsZero() {
				// preparing the request was the generator's time
				sent = max(sent, out.Sent.Sub(e.start))
			}
			held.add(intended, sent, end)
		}
	}
}

// timeUp reports whether the run's duration was over at now (time into the
// run), when request n (global number) was to be sent: requests not yet
// started are then not sent, however late they are, so that a run never
// overruns its duration by more than one request timeout (but see flush).
// The report counts them as unsent, and as late (see unsentWaits).
func (e *engine) timeUp(n uint64, now time.Duration) bool {
	if !e.pastEnd(now) {
		return false
	}
	e.endMu.Lock()
	e.abandoned = append(e.abandoned, n)
	e.endMu.Unlock()
	return true
}

// pastEnd reports whether the run's duration was over at now (time into
// the run).
func (e *engine) pastEnd(now time.Duration) bool {
	return e.opts.Duration > 0 && now >= e.opts.Duration
}

// due returns how many open-loop requests (of this shard) were due before
// the run ended, and when it ended (as time into the run; 0 when only a
// count bounds it): the whole schedule, or the part due before an abort
// (see Monitor). ok is false in closed loop and when a cancellation cut
// the run short. Requests due within growLag before an abort are not
// counted: their workers may have been waking for them (timers are late
// by up to a millisecond; more on a busy machine).
func (e *engine) due() (n uint64, end time.Duration, ok bool) {
	switch {
	case !e.open || e.limit == 0:
		return 0, 0, false
	case !e.stop.Load():
		return e.limit, e.opts.Duration, true
	case e.cut.Load():
		due := e.opts.Shard.Requests(Count(e.opts.Pacer, max(e.stopAt-growLag, 0)))
		return min(e.limit, due), e.stopAt, true
	}
	return 0, 0, false
}

// unsentNums returns the (global) numbers of the requests of the due that
// were never sent, the latest unsent of them, in order.
func (e *engine) unsentNums(due uint64, unsent int64) []uint64 {
	e.endMu.Lock()
	nums := slices.Clone(e.abandoned)
	e.endMu.Unlock()
	for k := min(e.next.Load(), due); k < due; k++ {
		nums = append(nums, e.opts.Shard.global(k))
	}
	slices.Sort(nums)
	if n := int(unsent); len(nums) > n {
		nums = nums[len(nums)-n:] // (the latest are surely unsent)
	}
	return nums
}

// chargeUnsent counts the unsent requests nums (due before end) in their
// endpoints' Unsent, records those that waited for a connection the target
// held in their endpoints' latency, at that wait (a lower bound; see
// unsentWaits), counting them in r.UnsentHeld and their endpoints'
// UnsentHeld, and records each one's own lateness (the rest of the time
// from its due time to the end) in own. With no end (a run bounded by its
// count alone) it only counts them.
func (e *engine) chargeUnsent(r *Report, own *metrics.HDR, nums []uint64, end time.Duration) {
	if end == 0 {
		for _, n := range nums {
			r.Endpoints[e.sched.Pick(n)].Unsent++
		}
		return
	}
	e.endMu.Lock()
	frees := slices.Clone(e.frees)
	e.endMu.Unlock()
	dues := make([]time.Duration, len(nums))
	for i, n := range nums {
		dues[i] = min(e.opts.Pacer.At(n), end)
	}
	for i, w := range unsentWaits(frees, dues, end, time.Duration(e.svcMedian.Load())) {
		st := &r.Endpoints[e.sched.Pick(nums[i])]
		st.Unsent++
		if w > 0 {
			st.Latency.Record(w)
			st.UnsentHeld++
			r.UnsentHeld++
		}
		own.Record(end - dues[i] - w)
	}
}

// addFree keeps a stopping worker's heldLog.free (see unsentWaits).
func (e *engine) addFree(free time.Duration) {
	e.endMu.Lock()
	e.frees = append(e.frees, free)
	e.endMu.Unlock()
}

// unsentWaits says how long each request due within the run's duration but
// never sent (dues, in ascending order) waited for a connection that the
// target held: a request the run ended before it could be sent is not left
// out of the latency when a slow or hung target held every connection
// meanwhile, which would make such a target look fast (a service that
// slowed to 1.5 s for the last 40% of a 5 s run read p90 1.4 ms).
//
// frees are when each worker's connection would have been free for a
// punctual generator (see heldLog): past end for a connection the target
// still held when the run ended. The requests take the connections in
// turn, each the one free first, and are taken to hold it for hold (the
// median service time) from when it was free or they were due: a request
// is charged the time from its due time to when its connection was free,
// or to end if later (a lower bound: it waited at least that long, and
// was not answered). A request due when a connection would have been free
// is charged nothing: its lateness is the generator's.
func unsentWaits(frees, dues []time.Duration, end, hold time.Duration) []time.Duration {
	waits := make([]time.Duration, len(dues))
	if len(frees) == 0 {
		return waits
	}
	h := freeHeap(slices.Clone(frees))
	heap.Init(&h)
	for i, due := range dues {
		f := h[0]
		if f > due {
			waits[i] = min(f, end) - due
		}
		h[0] = max(f, due) + hold
		heap.Fix(&h, 0)
	}
	return waits
}

// freeHeap is a min-heap of the times connections are free.
type freeHeap []time.Duration

func (h freeHeap) Len() int           { return len(h) }
func (h freeHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h freeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *freeHeap) Push(x any)        { *h = append(*h, x.(time.Duration)) }
func (h *freeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// heldLog is a worker's account of the time the target held its
// connection, to tell how much of a late request's lateness was a wait for
// the target and how much the generator's own. free is when the connection
// would have been free had the generator been punctual: had it sent each of
// the worker's requests at its due time, or when the connection was free if
// later, and had the target held each for as long as it did (from its send
// to its answer's arrival). A request is charged the time from its due time
// to then: a queue behind a slow target counts in full, and the generator's
// own lateness does not, whether it is the time between an answer's
// arrival and the next send, or a pause of the whole process (a CPU quota's
// throttling, a machine short of CPU) after which the requests that fell
// due meanwhile go out one after another.
type heldLog struct{ free time.Duration }

// add accounts a request due at due and held from from to to.
func (h *heldLog) add(due, from, to time.Duration) { h.free = max(h.free, due) + max(to-from, 0) }

// wait is how long a request due at due waits for the target.
func (h *heldLog) wait(due time.Duration) time.Duration { return max(h.free-due, 0) }

// deferred is a request whose answer a Deferrer collects later.
type deferred struct {
	open bool
	ep   int
	sample
}

// collect collects p's answer and records it (unless the worker must stop:
// see finish); it returns when the answer arrived.
func (e *engine) collect(ctx context.Context, df Deferrer, sh *shard, p *deferred) (end time.Duration, ok bool) {
	p.open = false
	return e.finish(sh, p.ep, df.Collect(ctx), p.sample)
}

// settle collects p's answer before the worker's next request, due at
// intended, and adds the time the target held the connection to held. An
// answer that came after the request was due, for a worker that was on
// time, and that took longer than deferral counted on (see stalled), ends
// deferral for the rest of the run: the request waited behind it by the
// generator's choice, and that wait is booked as generator lag (the engine
// cannot tell whether another connection would have been answered sooner),
// so that a target stalling now and then (a garbage collector's pause)
// loses such waits once per run, not once per stall. Deferral saves only
// CPU. It returns false when the worker must stop.
func (e *engine) settle(ctx context.Context, df Deferrer, sh *shard, p *deferred, held *heldLog, intended time.Duration, onTime bool) bool {
	due, from := p.intended, p.sent
	answered, ok := e.collect(ctx, df, sh, p)
	held.add(due, from, answered)
	if stalled(onTime, intended, from, answered, e.deferGap(from)) {
		e.noDefer.Store(true)
	}
	return ok && !e.stop.Load()
}

// stalled reports whether a deferred answer, to a request sent at from
// and arriving at answered, shows a target that stalls: the worker's next
// request, due at due, was claimed on time (onTime) and its answer came
// after it was due, and later than an eighth of gap, the time between a
// connection's requests when it was sent (deferral needs the answers to
// come back within that: see deferrable). An answer late only because the
// next request was due unusually soon (a worker catching up on requests
// the generator had fallen behind on, due a moment apart) says nothing of
// the target: that wait too is the generator's, and deferral goes on.
// (Ending it for such a wait, which a busy or virtual machine makes now
// and then, doubled the CPU of the rest of a run at 2,000 req/s.)
func stalled(onTime bool, due, from, answered, gap time.Duration) bool {
	return onTime && answered > due && answered-from > gap/8
}

// casMax raises v to at least x.
func casMax(v *atomic.Int64, x int64) {
	for {
		cur := v.Load()
		if cur >= x || v.CompareAndSwap(cur, x) {
			return
		}
	}
}

// maxDeferGap is the longest time until a worker's next request for which
// its answer is deferred. Deferral saves a wake-up per request, which
// matters at high rates only; the longer an answer waits unread, the more
// can happen to it meanwhile: a server closing the connection as idle
// (uvicorn and Node.js after 5 s, some proxies after 1 s or less) sends
// a FIN that the kernel merges into the unread answer, whose receive
// timestamp then becomes the FIN's.
const maxDeferGap = 50 * time.Millisecond

// deferrable reports whether a request sent now may have its answer
// collected at the worker's next due time: the median and the mean answer
// came back in under an eighth of the time until then (about workers /
// rate, at most maxDeferGap), well within the timeout, and no deferred
// answer was late in this run.
func (e *engine) deferrable(now time.Duration) bool {
	if e.completed.Load() < minSamples || e.noDefer.Load() {
		return false
	}
	gap := e.deferGap(now)
	if gap <= 0 {
		return false
	}
	// (the mean too: a slow tail, or a target that stalls now and then,
	// holds connections the median does not show, and a deferred answer
	// caught in one would delay the next request)
	svc := time.Duration(max(e.svcMedian.Load(), e.svcMean.Load()))
	return 8*svc < gap && gap <= maxDeferGap && (e.opts.Timeout == 0 || 2*gap < e.opts.Timeout)
}

// deferGap is about the time between a connection's requests at now into
// the run: the connections over the rate (zero without a rate).
func (e *engine) deferGap(now time.Duration) time.Duration {
	rate := e.rateAt(now)
	if rate <= 0 {
		return 0
	}
	return time.Duration(float64(e.workers.Load()) / rate * float64(time.Second))
}

// ended is when the answer of out arrived, as time into the run.
func (e *engine) ended(out Outcome) time.Duration {
	if !out.At.IsZero() {
		return out.At.Sub(e.start)
	}
	return time.Since(e.start)
}

// finish records a request's outcome and returns when it ended (its
// answer arrived); ok is false when the worker must stop (the request was
// cut short by cancellation, or its answer came after the duration and is
// ignored).
//
// A request in flight when Monitor stopped the run (an abort) is cut short
// and recorded as InFlightAtAbort: in the latency at the time it had
// taken, a lower bound, and not as an error. The target held it that long,
// and a stalled target's requests are what an abort on latency reacts to;
// their answers are not waited for.
func (e *engine) finish(sh *shard, ep int, out Outcome, sm sample) (end time.Duration, ok bool) {
	end = e.ended(out)
	if e.opts.Monitor != nil {
		sh.inflight.Add(-1)
	}
	aborted := false
	if e.stop.Load() && out.Err != "" {
		if !e.cut.Load() || out.Err != Canceled {
			// Cut short by cancellation: not a measurement of the target.
			return end, false
		}
		out, aborted = Outcome{Err: InFlightAtAbort, Sent: out.Sent}, true
	}
	if e.ignored(end) {
		return end, false
	}
	if !out.Sent.IsZero() {
		sm.sent = max(sm.sent, out.Sent.Sub(e.start))
	}
	svc := max(end-sm.sent, 0)
	if e.open && out.Err == "" {
		e.trackMedian(svc)
	}
	timedOut := out.Err == Timeout || out.Err == DeadlineExceeded
	if timedOut && svc < e.opts.Timeout {
		svc = e.opts.Timeout
	}
	if aborted {
		e.finished.Add(1)
		sm.service = svc
		sh.record(ep, out, false, false, sm)
		return end, true
	}
	if e.open {
		// every request held its connection, errors included (a server
		// that resets a request after working on it for 100 ms needs
		// connections as one that answers it does)
		e.trackMean(svc)
		if svc <= e.longHeld() {
			e.lastFast.Store(int64(end))
		}
	}
	e.finished.Add(1)
	isErr := e.opts.IsError(ep, out)
	sm.service = svc
	sm.omit = isErr && !timedOut && e.opts.OmitErrorLatency
	sh.record(ep, out, isErr, timedOut, sm)
	return end, true
}

// minSamples is how many responses the median service time needs before it
// governs growth.
const minSamples = 32

// growLag is the generator's own lateness beyond which it is taken to be
// short of CPU, and connections grow only as the service time says the rate
// needs (see grow): well above timer wake-ups (Go's are up to 1 ms late) and
// a busy machine's scheduling noise.
const growLag = 10 * time.Millisecond

// longHeld is how long a request in flight must have held its connection
// to count as held long by the target: growLag, and eight median service
// times.
func (e *engine) longHeld() time.Duration {
	return max(growLag, 8*time.Duration(e.svcMedian.Load()))
}

// heldLong counts the first w workers whose request has been in flight for
// longer than longHeld, held by the target with a slow tail: 0 unless the
// target answered another request fast within that time (a stall of the
// target, or of the machine under it, holds every connection, answers
// nothing meanwhile, and then the stalled requests all at once; more
// connections would queue with the rest). A stall longer than hangGrow is
// a hang: then every request in flight counts, and connections grow to
// send each request as it falls due, up to the cap (see watchHangs).
func (e *engine) heldLong(w int) int {
	now := int64(time.Since(e.start))
	long := int64(e.longHeld())
	if quiet := now - e.lastFast.Load(); quiet > long {
		if e.hung(time.Duration(now)) {
			return w
		}
		return 0
	}
	n := 0
	for j := range min(w, len(e.since)) {
		if s := e.since[j].Load(); s != 0 && now-(s-1) > long {
			n++
		}
	}
	return n
}

// hangGrow is how long the target must have answered nothing fast for its
// stall to count as a hang, during which connections grow again (see
// heldLong): well above the stalls of a target or of a busy machine that
// end with every held request answered at once (tens to hundreds of
// milliseconds), and short against request timeouts (10 s by default). The
// requests due during a hang are then sent, about hangGrow late (the wait
// charged to the target), and measured: they time out or are answered
// late, as a real client's would be, rather than left unsent, which no
// error-rate SLO sees.
const hangGrow = time.Second

// HangGrow is how long a stall must last before connections grow again to
// send the requests due in it (see hangGrow): a connection cap must leave
// room for that many seconds of requests besides those of one timeout.
const HangGrow = hangGrow

// watchHangs lets connections grow while a hung target holds every one of
// them: workers grow them when they send (see grow), and during a hang no
// worker is free to send. Every hangGrow/4, in a hang (no fast answer for
// hangGrow), when no worker is free and a request is overdue, it calls
// grow, with the wait until now charged to the target (no connection was
// free since that request was due, or a worker would have claimed it).
// Outside a hang it does nothing: a generator short of CPU, whose
// connections look busy with its own lateness, grows nothing this way. It
// ends when the last request is claimed, the duration ends or the run
// stops.
func (e *engine) watchHangs(ctx context.Context) {
	defer e.wg.Done()
	tick := time.NewTicker(hangGrow / 4)
	defer tick.Stop()
	var end <-chan time.Time
	if d := e.opts.Duration; d > 0 {
		t := time.NewTimer(d - time.Since(e.start))
		defer t.Stop()
		end = t.C
	}
	for {
		select {
		case <-tick.C:
		case <-end:
			e.flush(ctx, 0)
			return
		case <-e.drained:
			return
		case <-e.stopping:
			return
		case <-ctx.Done():
			return
		}
		n := e.next.Load()
		if e.idle.Load() > 0 || (e.limit > 0 && n >= e.limit) {
			continue
		}
		now := time.Since(e.start)
		if !e.hung(now) || e.opts.Pacer.At(e.opts.Shard.global(n)) >= now {
			continue // not a hang (workers grow connections as they send), or nothing is overdue
		}
		e.grow(ctx, &heldLog{free: now}, 0)
	}
}

// flush sends, when the duration ends, the requests due within it that a
// stalled target kept from being sent, each on a connection of its own up
// to the cap: a stall or hang in the run's last moments (shorter than
// hangGrow, or watchHangs would have grown connections for them) held every
// connection while they fell due. Left unsent they would be in the latency
// at their wait until the end (lower bounds; see unsentWaits), but no
// error-rate SLO would see them: against a target that hung for the last
// second of a 10 s run at 100 req/s, http/error-rate read 0.009 (8 timeouts
// among 909 requests sent, 91 unsent). Sent, they time out or are answered
// late, as a real client's would be, and the run lasts at most a request
// timeout beyond its duration, as with any request in flight at its end.
//
// It sends only when none has been answered fast for longHeld (the target
// holds them) and every worker is in a request; otherwise the requests
// left are the generator's (see unsentWaits). In a hang (see hung) a worker
// not in a request does not count: it is one a timeout just freed, or one
// grown for the hang and still connecting, and it sends nothing after the
// end, so the requests the hang held would be left unsent (a generator
// that fell behind by hangGrow is an invalid run anyway). Each is charged the
// time from its due time to the flush as a wait for the target, as an
// unsent request would have been, and its new connection's set-up, as
// a grown worker's is (see heldLog); the rest of its lateness (starting
// its goroutine) is the generator's.
//
// It runs once, when the end's timer fires or when a worker first finds
// the duration over (no worker claims a request after the end), whichever
// comes first; self is 1 for a worker, which is not in a request itself.
func (e *engine) flush(ctx context.Context, self int64) {
	e.endOnce.Do(func() { e.flushHeld(ctx, self) })
}

// flushHeld is flush's one run.
func (e *engine) flushHeld(ctx context.Context, self int64) {
	if e.opts.DurationStop != "" && e.opts.DurationStop != Wait {
		return // (requests in flight at the end are cut short or left out)
	}
	at := time.Since(e.start)
	if at-time.Duration(e.lastFast.Load()) <= e.longHeld() || (e.idle.Load() > self && !e.hung(at)) {
		return
	}
	for e.next.Load() < e.limit {
		w := e.workers.Load()
		if w >= int64(e.maxConns) {
			return
		}
		if !e.workers.CompareAndSwap(w, w+1) {
			continue
		}
		n := e.next.Add(1) - 1
		if n >= e.limit {
			e.workers.Add(-1)
			return
		}
		casMax(&e.peak, w+1)
		sh := e.shards[int(w)%len(e.shards)]
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			n = e.opts.Shard.global(n)
			ep := e.sched.Pick(n)
			dialed := time.Since(e.start)
			conn := e.dial(ctx)
			defer func() { _ = conn.Close() }()
			intended := e.opts.Pacer.At(n)
			sent := time.Since(e.start)
			sm := sample{sent: sent, intended: intended, wait: max(at-intended, 0) + (sent - dialed)}
			if e.opts.Monitor != nil {
				sh.inflight.Add(1)
			}
			e.finish(sh, ep, conn.Do(e.requestContext(ctx), ep), sm)
		}()
	}
}

// hung reports whether the target has answered nothing fast for hangGrow
// at now (time into the run): a hang.
func (e *engine) hung(now time.Duration) bool {
	return now-time.Duration(e.lastFast.Load()) > hangGrow
}

// trackMedian moves the median estimate a step towards svc (a frugal
// streaming median: up when a sample is above it, down when below, by a
// sixteenth). Racing updates may lose a step, which does not matter.
func (e *engine) trackMedian(svc time.Duration) {
	e.completed.Add(1)
	m := e.svcMedian.Load()
	switch {
	case m == 0:
		e.svcMedian.Store(max(int64(svc), 1))
	case int64(svc) > m:
		e.svcMedian.Store(m + m/16 + 1)
	case int64(svc) < m:
		e.svcMedian.Store(max(m-m/16, 1))
	}
}

// trackMean moves the mean estimate a sixty-fourth of the way to held.
// Racing updates may lose a step, which does not matter.
func (e *engine) trackMean(held time.Duration) {
	if m := e.svcMean.Load(); m == 0 {
		e.svcMean.Store(max(int64(held), 1))
	} else {
		e.svcMean.Store(max(m+(int64(held)-m)/64, 1))
	}
}

// sample is the timing of one request.
type sample struct {
	sent, intended time.Duration
	// service is from the send to the answer (at least the timeout for a
	// request that timed out); wait is how long the request waited for a
	// free connection after it was due (open loop).
	service, wait time.Duration
	// omit leaves the latency out of the histograms (OmitErrorLatency).
	omit bool
}

// corrected is the latency charged to the target: its service time plus
// any wait for a connection it kept busy, but not the generator's own
// lateness in starting a request while a connection was free.
func (s sample) corrected() time.Duration { return s.service + s.wait }

// late is how late the request started, whatever the cause.
func (s sample) late() time.Duration { return max(s.sent-s.intended, 0) }

// maxCode bounds the status codes counted in a fixed array; others use a map.
const maxCode = 600

type epStats struct {
	requests, errors, timedOut, replayed, delayed int64
	latency, service                              *metrics.HDR
	codes                                         [maxCode]int64
	other                                         map[string]int64
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
	lastSend       time.Duration
	lastLag        time.Duration // how late the last-sent request started
	late, genLag   *metrics.HDR
}

func newShard(endpoints int, open, monitor bool) *shard {
	s := &shard{open: open, ep: make([]epStats, endpoints), late: metrics.NewHDR(), genLag: metrics.NewHDR()}
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

func (s *shard) record(ep int, out Outcome, isErr, timedOut bool, sm sample) {
	s.mu.Lock()
	st := &s.ep[ep]
	st.requests++
	if isErr {
		st.errors++
	}
	if out.Replayed {
		st.replayed++
	}
	switch {
	case out.Err != "":
		st.other[string(out.Err)]++
	case out.Code >= 0 && out.Code < maxCode:
		st.codes[out.Code]++
	default:
		st.other[strconv.Itoa(out.Code)]++
	}
	if (out.Err == "" || timedOut || out.Err == InFlightAtAbort) && !sm.omit {
		// Latency is that of responses, and of requests that got none
		// within their timeout (at the timeout at least: a lower bound)
		// or before an abort (at the time they had taken); other
		// transport failures are counted, not timed.
		if timedOut {
			st.timedOut++
		}
		st.service.Record(sm.service)
		if s.open {
			st.latency.Record(sm.corrected())
		}
		if s.win != nil {
			if s.open {
				s.win.Record(sm.corrected())
			} else {
				s.win.Record(sm.service)
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
	if s.open {
		if sm.wait > DelayThreshold {
			st.delayed++
		}
		s.late.Record(sm.late())
		s.genLag.Record(max(sm.late()-sm.wait, 0))
	}
	if sm.sent > s.lastSend {
		s.lastSend = sm.sent
		s.lastLag = sm.sent - sm.intended
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

func (e *engine) report(elapsed, cpu, wait time.Duration) *Report {
	r := &Report{Open: e.open, Elapsed: elapsed, Endpoints: make([]Stats, e.nEP), GeneratorLag: metrics.NewHDR()}
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
			st.TimedOut += es.timedOut
			st.Replayed += es.replayed
			st.Delayed += es.delayed
			r.Delayed += es.delayed
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
	late := metrics.NewHDR()
	for _, sh := range e.shards {
		r.Sent += sh.sent
		late.Merge(sh.late)
		r.GeneratorLag.Merge(sh.genLag)
		if sh.lastSend > lastSend {
			lastSend, lastLag = sh.lastSend, sh.lastLag
		}
	}
	r.Ignored = e.dropped.Load()
	r.Connections = int(e.peak.Load())
	if w := e.opts.Concurrency; w != nil {
		r.Connections = min(r.Connections, int(max(w.Level(0), w.Level(elapsed))))
	}
	r.MaxConnections = e.maxConns
	if e.open {
		r.InitialConnections = e.initial
	}
	own := metrics.NewHDR() // the generator's own lateness (see GeneratorLateness)
	own.Merge(r.GeneratorLag)
	if due, end, ok := e.due(); ok {
		// every request due but not sent, however the workers stopped
		r.Unsent = max(int64(due)-r.Sent-e.dropped.Load(), 0)
		if r.Unsent > 0 {
			e.chargeUnsent(r, own, e.unsentNums(due, r.Unsent), end)
		}
	}
	r.Total = mergeStats(r.Endpoints, e.open)
	if procs := runtime.GOMAXPROCS(0); elapsed > 0 {
		r.CPUUtilization = cpu.Seconds() / elapsed.Seconds() / float64(procs)
		r.CPUWait = max(wait, 0).Seconds() / elapsed.Seconds() / float64(procs)
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
	planned := r.Sent + r.Unsent
	r.IntendedRate = e.meanRate(uint64(planned))
	r.AchievedRate = r.IntendedRate
	if r.Sent > 0 {
		window := float64(r.Sent)/e.meanRate(uint64(r.Sent)) + max(lastLag, 0).Seconds()
		if r.Unsent > 0 {
			// the schedule slipped past the end of the run
			window = max(window, elapsed.Seconds())
		}
		r.AchievedRate = float64(r.Sent) / window
	}
	// Judge the schedule in time: the median lateness against what the
	// run's span allows. Unsent requests are later than any sent one.
	if planned == 0 {
		return r
	}
	span := e.opts.Pacer.At(e.opts.Shard.global(uint64(planned - 1)))
	r.AllowedLateness = Allowed(span, e.opts.RateTolerance)
	half := (planned + 1) / 2
	if half > r.Sent {
		// the median request was never sent: it was late by at least the
		// time from its due time to the end of the run
		r.Lateness = max(elapsed-e.opts.Pacer.At(e.opts.Shard.global(uint64(half-1))), time.Duration(late.MaxMs()*1e6))
	} else {
		r.Lateness = time.Duration(late.PercentileMs(100*float64(half)/float64(r.Sent)) * 1e6)
	}
	r.GeneratorLateness = time.Duration(own.PercentileMs(50) * 1e6)
	r.judge(e.capHit.Load(), span, e.opts.RateTolerance)
	return r
}

// judge decides, from the figures of an open-loop run, whether it is
// connection-bound (a connection was needed beyond the cap and the target's
// service time explains it: at this rate the cap's connections were mostly
// busy with the target) and whether it is saturated (behind schedule for
// any other reason: the generator's own CPU or scheduling). A generator
// that used most of its CPU, or that other processes kept from it (its
// threads were ready to run but waited for a CPU), is not excused as
// connection-bound: its own slowness inflates the service times it
// measures, and on a machine short of CPU the target it measures is
// starved too.
func (r *Report) judge(capHit bool, span time.Duration, tolerance float64) {
	behind := Behind(r.Lateness, span, tolerance)
	need := r.IntendedRate * r.Total.Service.MeanMs() / 1000
	busy := r.busyAndLate(Allowed(span, tolerance))
	if capHit && r.Delayed > 0 && need >= 0.5*float64(r.MaxConnections) && r.CPUUtilization+r.CPUWait < 0.8 && !busy {
		r.ConnectionBound = true
		r.Warning = fmt.Sprintf("connection-bound: %d of %d requests waited for one of the %d connections (the cap): the target's mean service time of %.4g ms at %.4g req/s needs about %.0f; their waits are in the latency",
			r.Delayed, r.Sent, r.MaxConnections, r.Total.Service.MeanMs(), r.IntendedRate, need)
		if r.Unsent > 0 && r.UnsentHeld == 0 {
			r.Warning += fmt.Sprintf("; %d requests due within the duration could not start before it ended", r.Unsent)
		}
	}
	switch {
	case !behind || r.ConnectionBound:
	case Behind(r.GeneratorLateness, span, tolerance), busy:
		r.Saturated = true
		r.SaturationReason = saturationReason(r, busy)
	default:
		// behind, but not by the generator's own lateness: the target
		// held the connections (a stall, a slowdown that outran growth)
		r.Warning = fmt.Sprintf("behind schedule because the target held the connections: the median request started %s late, %s of it the generator's own; %d requests waited for a connection, their waits are in the latency",
			r.Lateness.Round(time.Microsecond), r.GeneratorLateness.Round(time.Microsecond), r.Delayed)
	}
	if r.UnsentHeld > 0 && r.Warning != "" {
		r.Warning += fmt.Sprintf("; %d requests due within the duration could not start before it ended, %d of them waiting for a connection the target held (in the latency at that wait: lower bounds)", r.Unsent, r.UnsentHeld)
	}
}

// busyAndLate reports whether the generator was busy, using or waiting
// for half of its cores, and often far behind while a connection was free
// (the p99 of its own lag beyond four times allowed, the median lateness
// the run may have; a generator mostly asleep on a busy machine is late by
// its scheduling, tens of milliseconds). Such a generator cannot blame the
// target for the connections it found held: its backlog, released over
// every connection at once, queues at the target and holds them (asked
// four to six times what it could send, iter8 found every connection of
// its cap held and charged the unsent requests to the target, with a
// median lateness of its own of 0 s and a p99 of 0.5 to 1.3 s). A
// generator that other processes starved (its threads, ready to run,
// waited for a CPU at least half the run on every core: starvedWait) is
// behind on its own account once its lag passes allowed at p99: asked
// 20,000 req/s for 1 s on a machine with four busy loops, iter8 sent 14,000
// to 15,000 with its threads waiting 2.5 s for a CPU, a lag p99 of 170 to
// 260 ms and a median lateness of its own of 45 to 70 ms (allowed 100 ms),
// and called the run behind on the target's waits: its backlog's.
func (r *Report) busyAndLate(allowed time.Duration) bool {
	if r.CPUUtilization+r.CPUWait < 0.5 || r.GeneratorLag == nil || r.GeneratorLag.Count() == 0 {
		return false
	}
	limit := 4 * allowed
	if r.CPUWait >= starvedWait {
		limit = allowed
	}
	return time.Duration(r.GeneratorLag.PercentileMs(99)*float64(time.Millisecond)) > limit
}

// starvedWait is the CPU wait (see Report.CPUWait) from which a generator
// counts as starved by other processes (see busyAndLate).
const starvedWait = 0.5

// saturationReason says why a run is invalid; busy is r.busyAndLate.
func saturationReason(r *Report, busy bool) string {
	why := fmt.Sprintf("the load generator fell behind its schedule while connections were free: the median request started %s late (allowed %s); achieved %.4g req/s of the intended %.4g req/s",
		r.Lateness.Round(time.Microsecond), r.AllowedLateness.Round(time.Microsecond), r.AchievedRate, r.IntendedRate)
	if busy {
		why += fmt.Sprintf("; the generator was busy and late while connections were free (its own lateness p99 %.4g ms), so the connections it found held may have been held by its own backlog", r.GeneratorLag.PercentileMs(99))
	}
	if r.Unsent > 0 {
		why += fmt.Sprintf("; %d requests due within the duration could not start before it ended", r.Unsent)
	}
	if r.CPUUtilization > 0.9 {
		why += fmt.Sprintf("; the load generator used %.0f%% of its CPU", 100*r.CPUUtilization)
	}
	if r.CPUWait > 0.2 {
		waited := time.Duration(r.CPUWait * float64(runtime.GOMAXPROCS(0)) * float64(r.Elapsed))
		why += fmt.Sprintf("; other processes kept the load generator from the CPU: its threads, ready to run, waited %s in all during the %s run", waited.Round(time.Millisecond), r.Elapsed.Round(time.Millisecond))
	}
	return why
}

// mergeStats sums the endpoints' figures into the run's total (see
// addStats: every count, the replays included, and the histograms).
func mergeStats(eps []Stats, open bool) Stats {
	if len(eps) == 1 {
		return eps[0]
	}
	t := emptyStats(open)
	for _, s := range eps {
		addStats(&t, s, open)
	}
	return t
}
