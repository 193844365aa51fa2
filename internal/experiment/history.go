package experiment

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/slo"
)

// History is bounded: the newest HistoryTier loops are kept one by one;
// older loops are merged HistoryMerge at a time into entries covering
// HistoryMerge loops, and those, HistoryTier at a time, into entries covering
// HistoryMerge² loops, and so on. 10,000 loops take about 150 entries, and
// trends over the whole run remain drawable.
const (
	HistoryTier  = 50
	HistoryMerge = 10
)

// EndInterrupted records the latest loop of this copy of the experiment as
// endInterrupted does, for a reader that knows the process running it has
// stopped (iter8 assert, finding no run holding the experiment), and
// returns the reason, or "" when there was nothing to record.
func (e *Experiment) EndInterrupted(steps []Step) string {
	if e.Result == nil {
		return ""
	}
	return e.Result.endInterrupted(steps)
}

// endInterrupted records the stored result's latest loop when it began and
// has no record: the process running it stopped before it ended (killed,
// its pod evicted or out of memory). A loop stopped in a task, or between
// two, failed: its SLOs are not judged, the experiment is failed with the
// reason (returned), and a window does not pass over it. A loop whose tasks
// had all ended is recorded as it stands. steps are the spec's tasks.
func (r *Result) endInterrupted(steps []Step) string {
	if r.NumLoops == 0 || len(r.Tasks) == 0 || len(r.History) > 0 && r.History[len(r.History)-1].Loop >= r.NumLoops {
		return ""
	}
	start := r.StartTime
	if r.LoopStartTime != nil {
		start = *r.LoopStartTime
	}
	why := ""
	for i, t := range r.Tasks {
		switch t.State {
		case Running:
			why = fmt.Sprintf("loop %d was interrupted: task %d (%s) was running when its process stopped", r.NumLoops, i+1, t.Name)
		case Pending:
			why = fmt.Sprintf("loop %d was interrupted: its process stopped before task %d (%s)", r.NumLoops, i+1, t.Name)
		case Failed:
			return "" // recorded when it failed
		default:
			continue
		}
		r.Tasks[i].State, r.Tasks[i].Error = Failed, why
		break
	}
	if why == "" {
		r.recordLoop(start, false)
		return ""
	}
	r.notJudged(steps, 0, len(steps), fmt.Sprintf("not judged in loop %d: %s", r.NumLoops, why))
	r.Failure, r.FailureReason = true, why
	r.recordLoop(start, true)
	return why
}

// recordLoop appends the summary of the loop that just ended, failed when a
// task failed in it, and compacts the history. (The result's Failure is
// sticky, as in the original: a loop after a failed one ran on its own.)
func (r *Result) recordLoop(start time.Time, failed bool) {
	s := LoopSummary{Loop: r.NumLoops, StartTime: start, Failure: failed}
	if in := r.Insights; in != nil {
		for v := range in.NonHistMetricValues {
			vals := map[string]float64{}
			for name, vs := range in.NonHistMetricValues[v] {
				if len(vs) > 0 {
					vals[name] = compact(vs[len(vs)-1])
				}
			}
			s.Values = append(s.Values, vals)
		}
		for v := range in.Histograms {
			hs := map[string]string{}
			for name, enc := range in.Histograms[v] {
				hs[name] = enc
			}
			s.Histograms = append(s.Histograms, hs)
		}
		s.SLOKeys = SLOKeys(in.SLOVerdicts)
		for _, v := range in.SLOVerdicts {
			row := make([]slo.Outcome, len(v.Versions))
			for i, res := range v.Versions {
				row[i] = res.Outcome
				if res.Loop != "" {
					row[i] = res.Loop // the loop's own outcome, before its window
				}
			}
			s.SLOs = append(s.SLOs, row)
		}
	}
	var ignore []bool // per SLO (s.SLOKeys): no data does not count against it
	if in := r.Insights; in != nil {
		for _, v := range in.SLOVerdicts {
			ignore = append(ignore, v.OnNoData == slo.IgnoreNoData)
		}
	}
	r.History = compactHistory(append(r.History, s), s.SLOKeys, ignore)
}

// SLOKey names an SLO in the history: its objective as reports show it.
func SLOKey(o slo.Objective) string { return o.String() }

// SLOKeys returns the key of each verdict's SLO.
func SLOKeys(vs []slo.Verdict) []string {
	keys := make([]string, len(vs))
	for i, v := range vs {
		keys[i] = SLOKey(v.Objective)
	}
	return keys
}

// Aligned returns the entry's SLO outcomes and, for a merged entry, its
// pass counts, one row for each of keys (the SLOs of the current spec, in
// order): each SLO is matched by its objective, the n-th of equal ones
// with the n-th, so that a spec edited between loops never reads another
// SLO's outcomes. The row of an SLO the entry's loops did not declare is
// nil (undeclared reports which). An entry recorded before SLOKeys existed
// is matched by position.
func (s LoopSummary) Aligned(keys []string) (outcomes [][]slo.Outcome, passed [][]int, undeclared []bool) {
	outcomes, passed, undeclared = make([][]slo.Outcome, len(keys)), nil, make([]bool, len(keys))
	if s.SLOsPassed != nil {
		passed = make([][]int, len(keys))
	}
	var pos []int
	if s.SLOKeys != nil {
		pos = positions(keys, s.SLOKeys)
	}
	for i := range keys {
		j := i
		if pos != nil {
			j = pos[i]
		}
		if j < 0 || (j >= len(s.SLOs) && j >= len(s.SLOsPassed)) {
			undeclared[i] = s.SLOKeys != nil
			continue
		}
		if j < len(s.SLOs) {
			outcomes[i] = s.SLOs[j]
		}
		if passed != nil && j < len(s.SLOsPassed) {
			passed[i] = s.SLOsPassed[j]
		}
	}
	return outcomes, passed, undeclared
}

// positions returns, for each of keys, its position in in, or -1: the
// n-th of equal keys pairs with the n-th of them in in.
func positions(keys, in []string) []int {
	out := make([]int, len(keys))
	seen := map[string]int{} // how many of each key came before
	for i, k := range keys {
		out[i] = -1
		n := seen[k]
		seen[k]++
		for j, x := range in {
			if x == k {
				if n == 0 {
					out[i] = j
					break
				}
				n--
			}
		}
	}
	return out
}

// compact rounds a value to 6 significant digits: enough for trends, and
// short in YAML.
func compact(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	f, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	if err != nil {
		return v
	}
	return f
}

// compactHistory merges the oldest entries of any tier holding more than
// HistoryTier entries into one entry of the next tier.
// ignore says, for each of the current SLOs (keys), whether no data counts
// as passed.
func compactHistory(h []LoopSummary, keys []string, ignore []bool) []LoopSummary {
	largest := 1
	for _, e := range h {
		largest = max(largest, e.Covers())
	}
	for size := 1; size <= largest; size *= HistoryMerge {
		first, n := -1, 0
		for i, e := range h {
			if e.Covers() == size {
				if first < 0 {
					first = i
				}
				n++
			}
		}
		if n <= HistoryTier {
			continue
		}
		// Entries of a tier are contiguous, oldest first.
		merged := mergeLoops(h[first:first+HistoryMerge], keys, ignore)
		out := make([]LoopSummary, 0, len(h)-HistoryMerge+1)
		out = append(out, h[:first]...)
		out = append(out, merged)
		out = append(out, h[first+HistoryMerge:]...)
		h = out
		largest = max(largest, size*HistoryMerge)
	}
	return h
}

// mergeLoops merges consecutive entries, oldest first, into one. Its SLOs
// are those of the last entry; each entry's pass counts are matched to
// them by objective (see Aligned), and a loop that did not declare one of
// them counts as not having passed it. ignore says, for each current SLO
// (cur), whether no data counts as passed; entries recorded before
// SLOKeys are read by position.
func mergeLoops(es []LoopSummary, cur []string, ignore []bool) LoopSummary {
	last := es[len(es)-1]
	m := LoopSummary{Loop: last.Loop, StartTime: es[0].StartTime, SLOs: last.SLOs, SLOKeys: last.SLOKeys}
	ignored := ignore
	if last.SLOKeys != nil {
		ignored = make([]bool, len(last.SLOKeys))
		for i, j := range positions(last.SLOKeys, cur) {
			if j >= 0 && j < len(ignore) {
				ignored[i] = ignore[j]
			}
		}
	}
	sums := []map[string]float64{}
	counts := []map[string]int{}
	hists := []map[string]*metrics.HDR{}
	for _, e := range es {
		w := e.Covers()
		m.Loops += w
		if e.Failure {
			m.Failure = true
			m.Failures += max(e.Failures, 1)
		}
		for v, vals := range e.Values {
			for len(sums) <= v {
				sums, counts = append(sums, map[string]float64{}), append(counts, map[string]int{})
			}
			for name, x := range vals {
				sums[v][name] += x * float64(w)
				counts[v][name] += w
			}
		}
		for v, hs := range e.Histograms {
			for len(hists) <= v {
				hists = append(hists, map[string]*metrics.HDR{})
			}
			for name, enc := range hs {
				h, err := metrics.DecodeHDR(enc)
				if err != nil {
					// Decode refuses such a result when it is read; a histogram
					// made in this process always decodes.
					panic(fmt.Sprintf("history: loop %d: histogram %q of version %d does not decode: %v", e.Loop, name, v, err))
				}
				if hists[v][name] == nil {
					hists[v][name] = h
				} else {
					hists[v][name].Merge(h)
				}
			}
		}
		var outcomes [][]slo.Outcome
		var passed [][]int
		if last.SLOKeys != nil {
			outcomes, passed, _ = e.Aligned(last.SLOKeys)
		} else {
			outcomes, passed = e.SLOs, e.SLOsPassed
		}
		if passed == nil {
			passed = passedCounts(outcomes, ignored)
		}
		for i, row := range passed {
			for len(m.SLOsPassed) <= i {
				m.SLOsPassed = append(m.SLOsPassed, nil)
			}
			for j, n := range row {
				for len(m.SLOsPassed[i]) <= j {
					m.SLOsPassed[i] = append(m.SLOsPassed[i], 0)
				}
				m.SLOsPassed[i][j] += n
			}
		}
	}
	for v := range sums {
		vals := map[string]float64{}
		for name, s := range sums[v] {
			vals[name] = compact(s / float64(counts[v][name]))
		}
		m.Values = append(m.Values, vals)
	}
	for v := range hists {
		hs := map[string]string{}
		for name, h := range hists[v] {
			if enc, err := h.Encode(); err == nil {
				hs[name] = enc
			}
		}
		m.Histograms = append(m.Histograms, hs)
	}
	return m
}

// passedCounts counts, per SLO and version, the loops of a single entry
// whose SLO held: passed, or had no data that the SLO ignores (ignore[i]).
func passedCounts(outcomes [][]slo.Outcome, ignore []bool) [][]int {
	out := make([][]int, len(outcomes))
	for i, row := range outcomes {
		out[i] = make([]int, len(row))
		for j, o := range row {
			if o == slo.Passed || (o == slo.NoData && i < len(ignore) && ignore[i]) {
				out[i][j] = 1
			}
		}
	}
	return out
}

// Insights returns the entry's values and histograms as insights, so that
// metric lookups (including percentiles computed from histograms) work on a
// past loop as on the current one.
func (s LoopSummary) Insights() *Insights {
	in := &Insights{NumVersions: max(len(s.Values), len(s.Histograms))}
	for _, vals := range s.Values {
		m := map[string][]float64{}
		for k, v := range vals {
			m[k] = []float64{v}
		}
		in.NonHistMetricValues = append(in.NonHistMetricValues, m)
	}
	in.Histograms = s.Histograms
	return in
}
