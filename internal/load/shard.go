package load

import (
	"context"
	"fmt"
	"time"

	"iter8.tools/iter8/internal/metrics"
)

// MaxShards bounds Shard.Count: the generators of one distributed run.
const MaxShards = 100

// Shard is one generator's part of a run shared by Count generators
// (distributed load): it sends request n of the one global schedule exactly
// when n mod Count = Index. The pacer is a pure function of n, so the
// generators need nothing in common but the start of the schedule
// (Options.StartAt); a count-bound run of N requests gives each generator
// its exact share, and the shares add up to N. Count 0 or 1 is the whole
// run.
type Shard struct {
	Index, Count int
}

// global returns the global sequence number of the shard's k-th request.
func (s Shard) global(k uint64) uint64 {
	if s.Count <= 1 {
		return k
	}
	return k*uint64(s.Count) + uint64(s.Index)
}

// Requests returns how many of the first total requests of the global
// schedule are the shard's: ceil((total-Index)/Count).
func (s Shard) Requests(total uint64) uint64 {
	if s.Count <= 1 {
		return total
	}
	c, i := uint64(s.Count), uint64(s.Index)
	if total <= i {
		return 0
	}
	return (total - i + c - 1) / c
}

// rateAt is the shard's part of the pacer's rate at t into the run.
func (e *engine) rateAt(t time.Duration) float64 {
	return rateAt(e.opts.Pacer, t) / float64(max(e.opts.Shard.Count, 1))
}

// meanRate is the shard's part of the pacer's mean rate over the shard's
// first n requests (about n*Count of the global schedule).
func (e *engine) meanRate(n uint64) float64 {
	c := uint64(max(e.opts.Shard.Count, 1))
	return MeanRate(e.opts.Pacer, n*c) / float64(c)
}

// waitUntil waits for the wall-clock time t, or for ctx.
func waitUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Merge combines the reports of the generators that shared one run (one per
// shard, in shard order) into the report of the whole run. Counts add up
// and HDR histograms merge exactly, so the merged latency percentiles are
// those of one histogram of every request; rates add up. Health is the
// worst of the parts: the median lateness is the largest of the parts'
// medians, and one saturated generator makes the whole run saturated (its
// verdicts invalid), with the reasons of every saturated part.
func Merge(parts []*Report) *Report {
	if len(parts) == 0 {
		return nil
	}
	nEP := 0
	for _, p := range parts {
		nEP = max(nEP, len(p.Endpoints))
	}
	r := &Report{Open: parts[0].Open, Endpoints: make([]Stats, nEP), GeneratorLag: metrics.NewHDR()}
	for i := range r.Endpoints {
		r.Endpoints[i] = emptyStats(r.Open)
	}
	var cpu, wait float64
	for i, p := range parts {
		for j := range p.Endpoints {
			addStats(&r.Endpoints[j], p.Endpoints[j], r.Open)
		}
		r.Elapsed = max(r.Elapsed, p.Elapsed)
		r.Sent += p.Sent
		r.Delayed += p.Delayed
		r.Unsent += p.Unsent
		r.UnsentHeld += p.UnsentHeld
		r.Ignored += p.Ignored
		r.IntendedRate += p.IntendedRate
		r.AchievedRate += p.AchievedRate
		r.Connections += p.Connections
		r.InitialConnections += p.InitialConnections
		r.MaxConnections += p.MaxConnections
		r.Lateness = max(r.Lateness, p.Lateness)
		r.GeneratorLateness = max(r.GeneratorLateness, p.GeneratorLateness)
		r.AllowedLateness = max(r.AllowedLateness, p.AllowedLateness)
		if p.GeneratorLag != nil {
			r.GeneratorLag.Merge(p.GeneratorLag)
		}
		cpu += p.CPUUtilization
		wait += p.CPUWait
		if p.ConnectionBound {
			r.ConnectionBound = true
			r.Warning = joinReason(r.Warning, i, p.Warning)
		}
		if p.Saturated {
			r.Saturated = true
			r.SaturationReason = joinReason(r.SaturationReason, i, p.SaturationReason)
		}
		if p.Stopped != "" && r.Stopped == "" {
			r.Stopped = fmt.Sprintf("generator %d: %s", i, p.Stopped)
		}
	}
	r.CPUUtilization = cpu / float64(len(parts))
	r.CPUWait = wait / float64(len(parts))
	r.Total = mergeStats(r.Endpoints, r.Open)
	return r
}

// joinReason adds generator i's reason to the reasons so far.
func joinReason(sofar string, i int, why string) string {
	s := fmt.Sprintf("generator %d: %s", i, why)
	if sofar == "" {
		return s
	}
	return sofar + "; " + s
}

func emptyStats(open bool) Stats {
	st := Stats{Service: metrics.NewHDR(), Codes: map[string]int64{}}
	st.Latency = st.Service
	if open {
		st.Latency = metrics.NewHDR()
	}
	return st
}

// AddCounts adds the counts of s (requests, errors, timeouts, replays,
// delayed and unsent requests, codes) to t, not its histograms: the one
// place that knows every count, for every merge of Stats.
func (t *Stats) AddCounts(s Stats) {
	t.Requests += s.Requests
	t.Errors += s.Errors
	t.TimedOut += s.TimedOut
	t.Replayed += s.Replayed
	t.Delayed += s.Delayed
	t.Unsent += s.Unsent
	t.UnsentHeld += s.UnsentHeld
	if t.Codes == nil && len(s.Codes) > 0 {
		t.Codes = map[string]int64{}
	}
	for k, n := range s.Codes {
		t.Codes[k] += n
	}
}

// addStats adds s to the sum t.
func addStats(t *Stats, s Stats, open bool) {
	t.AddCounts(s)
	if s.Service != nil {
		t.Service.Merge(s.Service)
	}
	if open && s.Latency != nil {
		t.Latency.Merge(s.Latency)
	}
}
