package load_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"iter8.tools/iter8/internal/load"
)

// deferTarget is a fake target whose Conns can defer answers: request i
// (in the order sent) is answered after delay(i), and its answer carries
// that arrival time (Outcome.At), as a kernel receive timestamp would.
type deferTarget struct {
	delay func(i int64) time.Duration
	// readLate, when set, makes Do return that long after the answer
	// arrived (a generator slow to read it); plain makes Conns without
	// Send and Collect
	readLate func(i int64) time.Duration
	plain    bool
	// sendSlow, when set, makes Send return that long after it sent (a
	// generator slow to send); timeout, when set, makes an answer
	// collected later than that after its send a timeout
	sendSlow func(i int64) time.Duration
	timeout  time.Duration
	n        atomic.Int64
	// last is when the latest request was sent (Unix ns)
	last atomic.Int64
	// unread is the longest an answer waited, once arrived, for Collect
	unread atomic.Int64
	mu     sync.Mutex
	// how each request was made, by index: true when deferred
	deferred map[int64]bool
}

func (t *deferTarget) NewConn() load.Conn {
	if t.plain {
		return plainConn{&deferConn{t: t}}
	}
	return &deferConn{t: t}
}

// plainConn is a Conn that cannot defer answers.
type plainConn struct{ c *deferConn }

func (c plainConn) Do(ctx context.Context, ep int) load.Outcome { return c.c.Do(ctx, ep) }

func (c plainConn) Close() error { return nil }

func (t *deferTarget) start(deferred bool) (int64, time.Time) {
	i := t.n.Add(1) - 1
	t.last.Store(time.Now().UnixNano())
	t.mu.Lock()
	t.deferred[i] = deferred
	t.mu.Unlock()
	return i, time.Now().Add(t.delay(i))
}

func (t *deferTarget) count(deferred bool) (n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, d := range t.deferred {
		if d == deferred {
			n++
		}
	}
	return n
}

// only returns d for request i and otherwise for every other request.
func only(i int64, d, otherwise time.Duration) func(int64) time.Duration {
	return func(n int64) time.Duration {
		if n == i {
			return d
		}
		return otherwise
	}
}

// wasDeferred reports whether request i was deferred.
func (t *deferTarget) wasDeferred(i int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.deferred[i]
}

type deferConn struct {
	t        *deferTarget
	at, sent time.Time
}

func (c *deferConn) Do(ctx context.Context, _ int) load.Outcome {
	i, at := c.t.start(false)
	out := c.t.answer(ctx, time.Now(), at)
	if c.t.readLate != nil {
		time.Sleep(c.t.readLate(i))
	}
	return out
}

func (c *deferConn) Send(_ context.Context, _ int) (load.Outcome, bool) {
	var i int64
	c.sent = time.Now()
	i, c.at = c.t.start(true)
	if c.t.sendSlow != nil {
		time.Sleep(c.t.sendSlow(i))
	}
	return load.Outcome{}, false
}

func (c *deferConn) Collect(ctx context.Context) load.Outcome {
	for u := int64(time.Since(c.at)); ; {
		if cur := c.t.unread.Load(); u <= cur || c.t.unread.CompareAndSwap(cur, u) {
			break
		}
	}
	if c.t.timeout > 0 && time.Since(c.sent) > c.t.timeout {
		// collected after its deadline, as a read that gave up would be
		return load.Outcome{Err: load.Timeout}
	}
	return c.t.answer(ctx, c.sent, c.at)
}

// answer waits for an answer sent at sent to arrive at at, or for its
// deadline (timeout), as a read that gives up would.
func (t *deferTarget) answer(ctx context.Context, sent, at time.Time) load.Outcome {
	if t.timeout > 0 && at.Sub(sent) > t.timeout {
		if out := answerAt(ctx, sent.Add(t.timeout)); out.Err != "" {
			return out
		}
		return load.Outcome{Err: load.Timeout}
	}
	return answerAt(ctx, at)
}

func (c *deferConn) Close() error { return nil }

// answerAt waits until at and answers with that arrival time.
func answerAt(ctx context.Context, at time.Time) load.Outcome {
	select {
	case <-time.After(time.Until(at)):
		return load.Outcome{Code: 200, At: at}
	case <-ctx.Done():
		return load.Outcome{Err: load.Canceled}
	}
}

// A target that answers well within the time to a worker's next request
// has its answers collected then, timed at their arrival (not their
// collection, 4 ms later); every request is counted once.
func TestDeferredAnswers(t *testing.T) {
	t.Parallel()
	tg := &deferTarget{delay: func(int64) time.Duration { return time.Microsecond }, deferred: map[int64]bool{}}
	rep, err := load.Run(context.Background(), tg, load.Options{
		Pacer: load.Constant{PerSecond: 1000}, Connections: 4, Requests: 300, Timeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Requests != 300 || rep.Total.Codes["200"] != 300 || tg.n.Load() != 300 {
		t.Fatalf("recorded %d (%v), sent %d: want 300", rep.Total.Requests, rep.Total.Codes, tg.n.Load())
	}
	// the first 32 answers set the median service time, then requests
	// are deferred
	if d := tg.count(true); d < 150 {
		t.Errorf("%d of 300 answers deferred, want most", d)
	}
	if p50 := rep.Total.Service.PercentileMs(50); p50 >= 1 {
		t.Errorf("service time p50 %.3f ms: deferred answers timed at their collection, not their arrival", p50)
	}
}

// A deferred answer that is not in when its worker's next request is due
// delays that request by the generator's choice: the delay is generator
// lag, not the target's latency, and no answer is deferred for the rest of
// the run (a target that stalls every few seconds would otherwise catch
// deferred answers in every stall).
func TestDeferredLateAnswer(t *testing.T) {
	t.Parallel()
	// 400 req/s over 4 connections: a worker's requests are 10 ms apart,
	// so that a worker is on time when it claims its next request even on
	// a busy machine
	const slow, n = 100, 700
	tg := &deferTarget{delay: only(slow, 60*time.Millisecond, 20*time.Microsecond), deferred: map[int64]bool{}}
	rep, err := load.Run(context.Background(), tg, load.Options{
		Pacer: load.Constant{PerSecond: 400}, Connections: 4, Requests: n, Timeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Requests != n {
		t.Fatalf("recorded %d, want %d", rep.Total.Requests, n)
	}
	if !tg.wasDeferred(slow) {
		t.Fatalf("request %d was not deferred", slow)
	}
	if max := rep.Total.Service.MaxMs(); max < 60 {
		t.Errorf("service time max %.3f ms, want the slow answer's 60 ms", max)
	}
	// the worker's next request was due about 10 ms after the slow one
	// was sent and left when its answer came, about 50 ms late
	if lag := rep.GeneratorLag.MaxMs(); lag < 30 {
		t.Fatalf("generator lag max %.3f ms, want the wait for the slow answer", lag)
	}
	// only the slow answer itself is slow: the second-slowest corrected
	// latency is small, unless the machine stalled the generator itself
	// behind its schedule (Delayed)
	if second := rep.Total.Latency.PercentileMs(100 - 100.0/n); rep.Delayed == 0 && second >= 30 {
		t.Errorf("second-slowest corrected latency %.3f ms: the wait for the slow answer was charged to the target", second)
	}
	// more than a second later (the pause this rule replaced), deferral
	// has not resumed
	var again []int64
	for i := int64(slow + 450); i < n; i++ {
		if tg.wasDeferred(i) {
			again = append(again, i)
		}
	}
	if len(again) > 0 {
		t.Errorf("%d answers deferred after a late one (from request %d)", len(again), again[0])
	}
}

// bunchPacer spaces requests evenly, but for a bunch of them all due at
// once and the next as many due a moment later, as when the generator
// catches up on requests it fell behind on.
type bunchPacer struct {
	per         time.Duration // between requests
	first, size uint64        // the bunch: requests first to first+size-1
	after       time.Duration // the next size requests: this long after it
}

func (p bunchPacer) At(n uint64) time.Duration {
	at := time.Duration(n) * p.per
	switch {
	case n >= p.first && n < p.first+p.size:
		at = time.Duration(p.first) * p.per
	case n >= p.first+p.size && n < p.first+2*p.size:
		at = time.Duration(p.first)*p.per + p.after
	}
	return at
}

func (p bunchPacer) Rate() float64 { return float64(time.Second) / float64(p.per) }

// A deferred answer late only because its worker's next request was due a
// moment after the send (catching up) does not end deferral: it came well
// within what deferral counted on (an eighth of a connection's gap between
// requests), and says nothing of the target.
func TestDeferredCatchUpKeepsDeferral(t *testing.T) {
	t.Parallel()
	// 160 req/s over 8 connections: 50 ms between a connection's
	// requests, so deferral counts on answers within 6.25 ms; the bunch's
	// answers take 2 ms, and each worker's next request is due 0.5 ms
	// after the bunch
	const first, size, n = 64, 8, 200
	tg := &deferTarget{delay: func(i int64) time.Duration {
		if i >= first && i < first+size {
			return 3500 * time.Microsecond
		}
		return 20 * time.Microsecond
	}, deferred: map[int64]bool{}}
	rep, err := load.Run(context.Background(), tg, load.Options{
		Pacer:       bunchPacer{per: 6250 * time.Microsecond, first: first, size: size, after: 2 * time.Millisecond},
		Connections: 8, Requests: n, Timeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Requests != n {
		t.Fatalf("recorded %d, want %d", rep.Total.Requests, n)
	}
	if !tg.wasDeferred(first) {
		t.Fatalf("request %d was not deferred", first)
	}
	var later int
	for i := int64(first + 4*size); i < n; i++ {
		if tg.wasDeferred(i) {
			later++
		}
	}
	if later < (n-first-4*size)/2 {
		t.Errorf("%d of the last %d answers deferred after the bunch, want most", later, n-first-4*size)
	}
}

// Answers are read as they come, however the run goes, when the target
// is slow for the rate (its median answer is not under an eighth of a
// connection's gap between requests) or the rate per connection is low
// (100 ms between a connection's requests, over the 50 ms limit: an answer
// left unread that long could take the time of the server's idle close).
func TestNotDeferred(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name     string
		delay    time.Duration
		rate     float64
		conns, n int
	}{
		{"slow target", 5 * time.Millisecond, 400, 4, 100},
		{"low rate per connection", 0, 20, 2, 40},
	} {
		tg := &deferTarget{delay: func(int64) time.Duration { return tt.delay }, deferred: map[int64]bool{}}
		rep, err := load.Run(context.Background(), tg, load.Options{
			Pacer: load.Constant{PerSecond: tt.rate}, Connections: tt.conns, MaxConnections: tt.conns,
			Requests: uint64(tt.n), Timeout: 10 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Total.Requests != int64(tt.n) || tg.count(true) != 0 {
			t.Errorf("%s: recorded %d, %d deferred: want %d, none deferred", tt.name, rep.Total.Requests, tg.count(true), tt.n)
		}
	}
}

// A generator late to read an answer that arrived in time (its kernel
// timestamp, Outcome.At) starts its worker's next request late by its own
// doing: that lateness is generator lag, not a wait for the target.
func TestLateReadNotCharged(t *testing.T) {
	t.Parallel()
	const late = 10
	// the next request is due 10 ms after the late one
	tg := &deferTarget{plain: true, deferred: map[int64]bool{},
		delay: only(-1, 0, 50*time.Microsecond), readLate: only(late, 15*time.Millisecond, 0)}
	rep, err := load.Run(context.Background(), tg, load.Options{
		Pacer: load.Constant{PerSecond: 100}, Connections: 1, MaxConnections: 1, Requests: 30, Timeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Requests != 30 || tg.count(true) != 0 {
		t.Fatalf("recorded %d, %d deferred: want 30, none deferred", rep.Total.Requests, tg.count(true))
	}
	if rep.Delayed != 0 {
		t.Errorf("%d requests charged a wait for the target, which answered every request in 50 µs", rep.Delayed)
	}
	if lag := rep.GeneratorLag.MaxMs(); lag < 4 {
		t.Errorf("generator lag max %.3f ms, want the 5 ms the slow read made the next requests late", lag)
	}
}

// gapPacer is 100 req/s with a pause of 200 ms before request 50.
type gapPacer struct{}

func (gapPacer) At(n uint64) time.Duration {
	at := time.Duration(n) * 10 * time.Millisecond
	if n >= 50 {
		at += 200 * time.Millisecond
	}
	return at
}

func (gapPacer) Rate() float64 { return 100 }

// An answer is not left unread long, however long until its worker's next
// request (a rate falling, a long Poisson gap): when that is due more than
// 50 ms after the send, the answer is collected before the worker sleeps,
// and so cannot meet the server's idle close.
func TestDeferredAnswerBeforeLongGap(t *testing.T) {
	t.Parallel()
	tg := &deferTarget{delay: func(int64) time.Duration { return 50 * time.Microsecond }, deferred: map[int64]bool{}}
	if _, err := load.Run(context.Background(), tg, load.Options{
		Pacer: gapPacer{}, Connections: 1, MaxConnections: 1, Requests: 60, Timeout: 10 * time.Second,
	}); err != nil {
		t.Fatal(err)
	}
	if !tg.wasDeferred(49) {
		t.Fatal("request 49, before the pause, was not deferred")
	}
	if u := time.Duration(tg.unread.Load()); u >= 100*time.Millisecond {
		t.Errorf("an answer waited %v unread: want it collected before the 200 ms pause", u)
	}
}

// An answer is never left unread past its request's timeout, however long
// until its worker's next request: it is collected first.
func TestDeferredAnswerBeforeTimeout(t *testing.T) {
	t.Parallel()
	tg := &deferTarget{delay: func(int64) time.Duration { return 50 * time.Microsecond },
		timeout: 100 * time.Millisecond, deferred: map[int64]bool{}}
	rep, err := load.Run(context.Background(), tg, load.Options{
		Pacer: gapPacer{}, Connections: 1, MaxConnections: 1, Requests: 60, Timeout: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !tg.wasDeferred(49) {
		t.Fatal("request 49, before the pause, was not deferred")
	}
	if rep.Total.Codes["200"] != 60 {
		t.Errorf("codes %v, want 60 answered: an answer was collected after its timeout", rep.Total.Codes)
	}
}

// A worker already behind when it claimed its next request waits for a
// deferred answer as for any other: the time the target held the
// connection after that request was due is charged to the target.
func TestDeferredBehindWaitsForTarget(t *testing.T) {
	t.Parallel()
	const slow = 40
	// the next request is due 10 ms after the slow one
	tg := &deferTarget{deferred: map[int64]bool{},
		delay: only(slow, 30*time.Millisecond, 50*time.Microsecond), sendSlow: only(slow, 15*time.Millisecond, 0)}
	rep, err := load.Run(context.Background(), tg, load.Options{
		Pacer: load.Constant{PerSecond: 100}, Connections: 1, MaxConnections: 1, Requests: 50, Timeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !tg.wasDeferred(slow) {
		t.Fatalf("request %d was not deferred", slow)
	}
	// the next request was due 10 ms after the slow one was sent, whose
	// answer came 30 ms after it: 20 ms of waiting for the target
	if second := rep.Total.Latency.PercentileMs(97); rep.Delayed == 0 || second < 19 {
		t.Errorf("delayed %d, second-slowest corrected latency %.3f ms: the wait for the slow answer was not charged", rep.Delayed, second)
	}
}

// slowGapPacer is 25 req/s with a pause of 200 ms before request 50.
type slowGapPacer struct{}

func (slowGapPacer) At(n uint64) time.Duration {
	at := time.Duration(n) * 40 * time.Millisecond
	if n >= 50 {
		at += 200 * time.Millisecond
	}
	return at
}

func (slowGapPacer) Rate() float64 { return 25 }

// sendTimes wraps a deferTarget and notes when each request was sent.
type sendTimes struct {
	*deferTarget
	mu    sync.Mutex
	sends map[int64]time.Time
}

func (t *sendTimes) NewConn() load.Conn { return &sendTimesConn{t: t, c: &deferConn{t: t.deferTarget}} }

func (t *sendTimes) gap(i int64) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sends[i+1].Sub(t.sends[i])
}

type sendTimesConn struct {
	t *sendTimes
	c *deferConn
}

func (c *sendTimesConn) note() {
	c.t.mu.Lock()
	c.t.sends[c.t.n.Load()] = time.Now()
	c.t.mu.Unlock()
}

func (c *sendTimesConn) Do(ctx context.Context, ep int) load.Outcome {
	c.note()
	return c.c.Do(ctx, ep)
}

func (c *sendTimesConn) Send(ctx context.Context, ep int) (load.Outcome, bool) {
	c.note()
	return c.c.Send(ctx, ep)
}

func (c *sendTimesConn) Collect(ctx context.Context) load.Outcome { return c.c.Collect(ctx) }

func (c *sendTimesConn) Close() error { return nil }

// An answer collected early, before a long gap, does not push the next
// request back by the time it took: request 49's answer takes 300 ms and
// request 50 is due 240 ms after 49, so 50 leaves when the answer is in,
// about 300 ms after 49, not 240 ms after that.
func TestEarlyCollectionKeepsSchedule(t *testing.T) {
	t.Parallel()
	tg := &sendTimes{deferTarget: &deferTarget{delay: func(i int64) time.Duration {
		if i == 49 {
			return 300 * time.Millisecond
		}
		return 2 * time.Millisecond
	}, deferred: map[int64]bool{}}, sends: map[int64]time.Time{}}
	if _, err := load.Run(context.Background(), tg, load.Options{
		Pacer: slowGapPacer{}, Connections: 1, MaxConnections: 1, Requests: 60, Timeout: 10 * time.Second,
	}); err != nil {
		t.Fatal(err)
	}
	if !tg.wasDeferred(49) {
		t.Fatal("request 49 was not deferred")
	}
	if g := tg.gap(49); g > 420*time.Millisecond {
		t.Errorf("request 50 left %v after 49, want about 300 ms (when 49's answer came)", g)
	}
}

// renderTarget spends 15 ms preparing each request (the generator's time),
// which is then answered in 50 µs.
type renderTarget struct{}

func (renderTarget) NewConn() load.Conn { return renderConn{} }

type renderConn struct{}

func (renderConn) Do(context.Context, int) load.Outcome {
	time.Sleep(15 * time.Millisecond)
	sent := time.Now()
	return load.Outcome{Code: 200, Sent: sent, At: sent.Add(50 * time.Microsecond)}
}

func (renderConn) Close() error { return nil }

// Preparation time is the generator's in the waits too: a generator behind
// its schedule because each request takes 15 ms to prepare (at 100 req/s
// over one connection) does not charge the target a wait for a connection
// the target held for 50 µs.
func TestPreparationNotAWait(t *testing.T) {
	t.Parallel()
	rep, err := load.Run(context.Background(), renderTarget{}, load.Options{
		Pacer: load.Constant{PerSecond: 100}, Connections: 1, MaxConnections: 1, Requests: 40, Timeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := rep.Total.Latency.PercentileMs(99); p > 5 {
		t.Errorf("corrected latency p99 %.3f ms for a 0.05 ms service: the preparation was charged to the target as a wait", p)
	}
}

// A target with a slow tail (1 answer in 20 takes 500 ms, the others
// 20 µs) has no answers deferred once its mean shows the tail: a deferred
// slow answer would hold up its worker's next request while other
// connections were free, and several at once would look like a stall.
// At 200 req/s over 8 connections the 95th percentile is a fast answer's.
func TestSlowTailNotDeferred(t *testing.T) {
	t.Parallel()
	tg := &deferTarget{delay: func(i int64) time.Duration {
		if i%20 == 19 {
			return 500 * time.Millisecond
		}
		return 20 * time.Microsecond
	}, deferred: map[int64]bool{}}
	rep, err := load.Run(context.Background(), tg, load.Options{
		Pacer: load.Constant{PerSecond: 200}, Connections: 8, MaxConnections: 100, Requests: 600, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if p := rep.Total.Latency.PercentileMs(95); p > 50 {
		t.Errorf("corrected latency p95 %.3f ms (%d deferred): want a fast answer's, the tail being 5%%", p, tg.count(true))
	}
	late := 0
	for i := int64(300); i < 600; i++ {
		if tg.wasDeferred(i) {
			late++
		}
	}
	if late > 0 {
		t.Errorf("%d of the last 300 answers deferred: want none once the mean shows the tail", late)
	}
}

// A worker that claimed its next request while a deferred answer was out
// does not send it after the run's end: a target that hangs holds the
// deferred answer until its timeout, which may be after the end, and a
// request sent then would keep the run going for another timeout. It is
// unsent, as any request not started before the end.
func TestNoSendAfterEndBehindDeferredAnswer(t *testing.T) {
	t.Parallel()
	const timeout, duration = time.Second, time.Second
	// 400 req/s over 4 connections (10 ms between a worker's requests);
	// the target hangs from request 200 (0.5 s): the answers deferred
	// then time out 0.5 s after the end
	tg := &deferTarget{delay: func(i int64) time.Duration {
		if i >= 200 {
			return time.Minute
		}
		return 20 * time.Microsecond
	}, timeout: timeout, deferred: map[int64]bool{}}
	start := time.Now()
	rep, err := load.Run(context.Background(), tg, load.Options{
		Pacer: load.Constant{PerSecond: 400}, Connections: 4, MaxConnections: 4, Duration: duration, Timeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	if tg.count(true) < 100 || !tg.wasDeferred(200) {
		t.Fatalf("%d answers deferred (request 200: %v): the test needs the hang to catch deferred answers", tg.count(true), tg.wasDeferred(200))
	}
	// (a timer's lateness on a busy machine is far below timeout/2)
	if after := time.Unix(0, tg.last.Load()).Sub(start) - duration; after > timeout/2 {
		t.Errorf("a request was sent %v after the run's end, behind a deferred answer that timed out", after.Round(time.Millisecond))
	}
	if rep.Unsent == 0 || rep.Sent+rep.Unsent != 400 {
		t.Errorf("sent %d, unsent %d: want the requests due in the hang unsent, 400 in all", rep.Sent, rep.Unsent)
	}
}
