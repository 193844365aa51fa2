package providertest

import (
	"math"
	"time"
)

// Point is one stored sample of a series: its timestamp and value.
type Point struct {
	T time.Time
	V float64
}

// Increase is what Prometheus 2.x's increase() over window evaluates to at
// the time at, for a counter whose stored samples are points (ascending by
// time): the samples with a timestamp in [at-window, at], their rise
// (counter resets added back), extrapolated towards both ends of the window
// as the PromQL documentation describes. An end is extrapolated all the way
// when its gap to the nearest sample is under 1.1 times the average interval
// between the samples, else by half an average interval; the start is not
// extrapolated past the time the counter would have been zero. ok is false
// when fewer than two samples are in the window (Prometheus returns nothing).
// rate() is Increase divided by the window in seconds.
func Increase(points []Point, at time.Time, window time.Duration) (v float64, ok bool) {
	from := at.Add(-window)
	var in []Point
	for _, p := range points {
		if !p.T.Before(from) && !p.T.After(at) {
			in = append(in, p)
		}
	}
	if len(in) < 2 {
		return 0, false
	}
	first, last := in[0], in[len(in)-1]
	rise := last.V - first.V
	for i := 1; i < len(in); i++ {
		if in[i].V < in[i-1].V { // a reset: the counter restarted from zero
			rise += in[i-1].V
		}
	}
	sampled := last.T.Sub(first.T).Seconds()
	avg := sampled / float64(len(in)-1)
	toStart := first.T.Sub(from).Seconds()
	toEnd := at.Sub(last.T).Seconds()
	if rise > 0 && first.V >= 0 {
		// The counter, going back at the same pace, reaches zero this long
		// before the first sample: no further.
		if toZero := sampled * first.V / rise; toZero < toStart {
			toStart = toZero
		}
	}
	span := sampled
	for _, gap := range []float64{toStart, toEnd} {
		if gap < 1.1*avg {
			span += gap
		} else {
			span += avg / 2
		}
	}
	return rise * span / sampled, true
}

// IncreaseBounds brackets what a sum of increase() over window of series
// (each a counter's stored samples, all scraped together) can have evaluated
// to at any millisecond from..to: the least and greatest of Increase summed
// over the series, both with every sample stamped up to then and with the
// newest of those not yet ingested (a scrape is stored after the time it is
// stamped with). ok is false when no evaluation time in the span gives a
// value.
func IncreaseBounds(series [][]Point, from, to time.Time, window time.Duration) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for at := from.Truncate(time.Millisecond); !at.After(to); at = at.Add(time.Millisecond) {
		newest := time.Time{}
		for _, s := range series {
			for _, p := range s {
				if !p.T.After(at) && p.T.After(newest) {
					newest = p.T
				}
			}
		}
		for _, lag := range []bool{false, true} {
			sum, found := 0.0, false
			for _, s := range series {
				stored := s
				if lag {
					stored = nil
					for _, p := range s {
						if !p.T.Equal(newest) {
							stored = append(stored, p)
						}
					}
				}
				if v, ok := Increase(stored, at, window); ok {
					sum, found = sum+v, true
				}
			}
			if found {
				lo, hi, ok = math.Min(lo, sum), math.Max(hi, sum), true
			}
		}
	}
	return lo, hi, ok
}
