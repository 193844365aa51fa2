// Package load is iter8's load engine. It paces requests either open loop (one
// global rate, independent of responses) or closed loop (each connection sends
// as soon as its previous response returns), runs them over a bounded number
// of connections, and records latency in HDR histograms: in open loop both
// from the request's intended start (corrected for coordinated omission) and
// from its actual send (service time). Memory is constant in the number of
// requests. Protocols plug in as a Target (see httpload and grpcload).
package load

import (
	"math"
	"time"
)

// Pacer gives the intended start of each request as an offset from the start
// of the run. It is a pure function of the request's sequence number, so
// pacing is tested without sleeping.
type Pacer interface {
	// At returns when the n-th request (0-based) should start.
	At(n uint64) time.Duration
	// Rate is the intended overall rate in requests per second.
	Rate() float64
}

// Constant paces requests at a fixed rate. With a Tick, intended start times
// are rounded down to multiples of the tick, so the requests due within one
// tick start together: the rate is unchanged over any tick-long window, and
// the generator wakes once per tick instead of once per request.
type Constant struct {
	PerSecond float64
	Tick      time.Duration
}

// At returns n / rate, rounded down to the tick.
// It saturates at the longest Duration (a rate too low to matter).
func (c Constant) At(n uint64) time.Duration {
	f := math.Round(float64(n) * 1e9 / c.PerSecond)
	if !(f < math.MaxInt64) {
		return math.MaxInt64
	}
	d := time.Duration(f)
	if c.Tick > 0 {
		d -= d % c.Tick
	}
	return d
}

// MaxCount bounds Count, so that no rate (however absurd) makes it loop
// without end.
const MaxCount = 1 << 50

// MaxTick bounds the batching tick chosen by BatchTick.
const MaxTick = 10 * time.Millisecond

// BatchTick returns the tick for a rate and a number of connections: the time
// in which the connections can each start one request (so a batch never
// exceeds the connections), at most MaxTick. It returns 0 (no batching) when
// a tick would hold fewer than two requests.
func BatchTick(rate float64, connections int) time.Duration {
	if rate <= 0 || connections < 1 {
		return 0
	}
	t := min(time.Duration(float64(connections)/rate*1e9), MaxTick)
	if rate*t.Seconds() < 2 {
		return 0
	}
	return t
}

// Rate returns the fixed rate.
func (c Constant) Rate() float64 { return c.PerSecond }

// Count returns how many requests a pacer starts before d has elapsed, at
// most MaxCount.
func Count(p Pacer, d time.Duration) uint64 {
	// Requests at At(n) < d; At is monotonic, so search.
	lo, hi := uint64(0), uint64(1)
	for p.At(hi) < d {
		if hi >= MaxCount {
			return MaxCount
		}
		lo, hi = hi, hi*2
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if p.At(mid) < d {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// Schedule spreads requests over endpoints in proportion to their weights,
// deterministically: request n goes to endpoint Pick(n). Over any window of
// Len() consecutive requests the counts match the weights to within one
// request each.
type Schedule struct {
	pattern []uint16
}

// NewSchedule builds a schedule for positive weights. A nil or one-element
// weight list gives a schedule that always picks endpoint 0.
func NewSchedule(weights []float64) Schedule {
	if len(weights) <= 1 {
		return Schedule{pattern: []uint16{0}}
	}
	const length = 1000
	var total float64
	for _, w := range weights {
		total += w
	}
	// Smooth weighted round robin over the normalised weights.
	cur := make([]float64, len(weights))
	pattern := make([]uint16, length)
	for i := range pattern {
		best := 0
		for j, w := range weights {
			cur[j] += w / total
			if cur[j] > cur[best] {
				best = j
			}
		}
		cur[best]--
		pattern[i] = uint16(best)
	}
	return Schedule{pattern: pattern}
}

// Pick returns the endpoint of the n-th request.
func (s Schedule) Pick(n uint64) int {
	return int(s.pattern[n%uint64(len(s.pattern))])
}

// Len is the schedule's period.
func (s Schedule) Len() int { return len(s.pattern) }
