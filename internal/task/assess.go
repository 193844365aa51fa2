package task

import (
	"context"
	"fmt"
	"math"
	"strings"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/slo"
)

// assessInputs are the assess task's inputs (compat section 3.5), plus a
// window of loops and an abort switch for multi-loop experiments.
type assessInputs struct {
	SLOs *experiment.SLOLimits `json:"SLOs,omitempty"`
	// Window judges each SLO over the last Window loops (this one included):
	// it passes only if it held in each of them.
	Window *int `json:"window,omitempty"`
	// AbortOnFailure stops the experiment (no further loops) when an SLO is
	// not satisfied.
	AbortOnFailure bool `json:"abortOnFailure,omitempty"`
}

type assessTask struct {
	in         assessInputs
	objectives []slo.Objective
}

func newAssess(with map[string]any) (experiment.Task, error) {
	t := &assessTask{}
	if err := inputs.Decode(with, &t.in); err != nil {
		return nil, err
	}
	if t.in.Window != nil && *t.in.Window < 1 {
		return nil, &inputs.FieldError{Field: "window", Value: *t.in.Window, Expected: "a number of loops, at least 1"}
	}
	if t.in.SLOs == nil || len(t.in.SLOs.Upper)+len(t.in.SLOs.Lower) == 0 {
		return nil, &inputs.FieldError{Field: "SLOs", Missing: true, Expected: "at least one SLO, for example SLOs: {upper: [{metric: http/latency-mean, limit: 50}]} (--set assess.SLOs.upper.http/latency-mean=50): an assess task without SLOs judges nothing"}
	}
	for dir, list := range map[slo.Direction][]experiment.SLO{slo.Upper: t.in.SLOs.Upper, slo.Lower: t.in.SLOs.Lower} {
		for i, s := range list {
			field := fmt.Sprintf("SLOs.%s[%d]", dir, i)
			n, err := metrics.ParseName(s.Metric)
			if err != nil {
				return nil, &inputs.FieldError{Field: field + ".metric", Value: s.Metric, Expected: "a metric name such as http/latency-mean or http/latency-p99"}
			}
			if n.PercentileOutOfRange() {
				return nil, &inputs.FieldError{Field: field + ".metric", Value: s.Metric, Expected: "a percentile above 0 and at most 100, such as http/latency-p99 or http/latency-p99.9"}
			}
			if !limitGiven(with, string(dir), i) {
				return nil, &inputs.FieldError{Field: field + ".limit", Missing: true, Expected: "a number: the SLO's limit (a missing limit is not 0)"}
			}
			if math.IsNaN(s.Limit) || math.IsInf(s.Limit, 0) {
				return nil, &inputs.FieldError{Field: field + ".limit", Value: s.Limit, Expected: "a finite number"}
			}
			switch s.OnNoData {
			case "", slo.FailOnNoData, slo.IgnoreNoData:
			default:
				return nil, &inputs.FieldError{Field: field + ".onNoData", Value: string(s.OnNoData), Expected: "fail (the default: no data fails the SLO) or ignore (no data is reported but does not fail the experiment)"}
			}
			list[i].Metric = n.String()
		}
	}
	for _, s := range t.in.SLOs.Upper {
		t.objectives = append(t.objectives, slo.Objective{Metric: s.Metric, Limit: s.Limit, Direction: slo.Upper, OnNoData: s.OnNoData})
	}
	for _, s := range t.in.SLOs.Lower {
		t.objectives = append(t.objectives, slo.Objective{Metric: s.Metric, Limit: s.Limit, Direction: slo.Lower, OnNoData: s.OnNoData})
	}
	return t, nil
}

// limitGiven reports whether the SLO at index i of the list dir (upper or
// lower) of the raw inputs names its limit: decoded, a missing limit reads
// 0, which an upper SLO on a count or a lower one on anything passes.
func limitGiven(with map[string]any, dir string, i int) bool {
	slos, _ := getFold(with, "SLOs").(map[string]any)
	list, _ := getFold(slos, dir).([]any)
	if i >= len(list) {
		return true // (not given as a list: decoding told)
	}
	m, ok := list[i].(map[string]any)
	return !ok || getFold(m, "limit") != nil
}

// getFold is m's value at key, or at a key equal to it ignoring case (as
// decoding matches fields); nil when there is none.
func getFold(m map[string]any, key string) any {
	if v, ok := m[key]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

func (t *assessTask) Inputs() any { return t.in }

// Objectives are the SLOs the task judges: upper ones first, then lower.
func (t *assessTask) Objectives() []slo.Objective { return t.objectives }

var _ experiment.Judge = (*assessTask)(nil)

// Run judges every SLO for every version on this loop's values and records
// the verdicts at the task's place among the spec's SLOs, both as typed
// verdicts with values and in the original's SLOs and SLOsSatisfied.
func (t *assessTask) Run(_ context.Context, env *experiment.Env) error {
	res := env.Experiment.Result
	n := 1
	if res.Insights != nil && res.Insights.NumVersions > 0 {
		n = res.Insights.NumVersions
	}
	in, err := res.InitInsights(n, nil)
	if err != nil {
		return err
	}
	verdicts := slo.Evaluate(t.objectives, in.NumVersions, in)
	if t.in.Window != nil && *t.in.Window > 1 {
		// the spec's SLOs, which the loop's start recorded as not judged
		keys := experiment.SLOKeys(in.SLOVerdicts)
		for len(keys) < env.SLOIndex+len(verdicts) {
			keys = append(keys, "")
		}
		copy(keys[env.SLOIndex:], experiment.SLOKeys(verdicts))
		applyWindow(verdicts, env.SLOIndex, keys, res.History, res.NumLoops, *t.in.Window-1)
	}
	in.SetVerdicts(env.SLOIndex, verdicts)
	for _, v := range verdicts {
		for i, r := range v.Versions {
			switch {
			case r.Outcome == slo.Passed:
			case r.Satisfied():
				env.Logger.Warn("SLO has no data; ignored (onNoData: ignore)", "slo", v.String(), "version", i, "reason", r.Reason)
			default:
				env.Logger.Info("SLO not satisfied", "slo", v.String(), "version", i, "outcome", string(r.Outcome), "reason", r.Reason)
			}
		}
	}
	if t.in.AbortOnFailure && unmet(verdicts) {
		return fmt.Errorf("%w: an SLO is not satisfied and abortOnFailure is set (%s)", experiment.ErrAbort, firstUnmet(verdicts, in))
	}
	return nil
}

// unmet reports whether an SLO was judged and not satisfied: a window
// that is not full yet is not a reason to stop.
func unmet(verdicts []slo.Verdict) bool {
	for _, v := range verdicts {
		for _, r := range v.Versions {
			if !r.Satisfied() && r.Outcome != slo.NotJudged {
				return true
			}
		}
	}
	return false
}

func firstUnmet(verdicts []slo.Verdict, in *experiment.Insights) string {
	for _, v := range verdicts {
		for i, r := range v.Versions {
			if !r.Satisfied() && r.Outcome != slo.NotJudged {
				return fmt.Sprintf("%s for %s: %s", v.String(), in.VersionLabel(i), r.Reason)
			}
		}
	}
	return ""
}

// applyWindow fails a satisfied verdict (passed, or no data that its
// objective ignores) that did not hold in each of the previous loops of
// the window, counted in loops: current is this loop's number. A past loop
// held an SLO when its recorded outcome, the outcome of that loop's own
// values, passed (or was no data that the objective ignores); a loop that
// did not judge it (a failed loop, or one that skipped the assess task)
// never did, nor did a loop with no record between recorded ones (its
// process was killed before it ended). A merged history entry held it when
// every loop it covers passed, so a window that reaches into part of one
// is judged on all of it. A window reaching before the first loop, or
// before the history began, or into loops whose spec did not declare the
// SLO (it was added or changed since), is not full: the verdict is not
// judged yet. first is the position of the task's first SLO among keys,
// the spec's SLOs, by which the history's outcomes are matched (see
// experiment.LoopSummary.Aligned).
func applyWindow(verdicts []slo.Verdict, first int, keys []string, history []experiment.LoopSummary, current, previous int) {
	for vi := range verdicts {
		v := &verdicts[vi]
		for ver := range v.Versions {
			r := &v.Versions[ver]
			if !r.Satisfied() {
				continue
			}
			why, missing, skipped := windowBreak(history, keys, current, previous, first+vi, ver, v.Objective)
			switch {
			case why != "":
				r.Loop, r.Outcome, r.Ignored = r.Outcome, slo.Failed, false
				r.Reason = fmt.Sprintf("%s, in the window of %d loops", why, previous+1)
			case skipped > 0:
				r.Loop, r.Outcome, r.Ignored = r.Outcome, slo.NotJudged, false
				r.Reason = fmt.Sprintf("the window of %d loops holds loop %d, whose assess task its if: condition skipped, so it did not judge the SLO; it is judged once the window holds only loops that judged it", previous+1, skipped)
			case missing > 0:
				r.Loop, r.Outcome, r.Ignored = r.Outcome, slo.NotJudged, false
				r.Reason = fmt.Sprintf("the window of %d loops has %d recorded so far (the SLO held in each); it is judged once the window is full", previous+1, previous+1-missing)
			}
		}
	}
}

// windowBreak says why the previous loops before loop current do not all
// count as having held SLO i (objective o, keys[i]) for a version, or
// returns "" and how many of the window's loops have no record yet: loops
// to come (the window reaches before loop 1), loops run before the
// history began (a result of the original Iter8, reused), or loops whose
// spec did not declare the SLO, which were not judged on it and do not
// break the window. A loop in which no task failed and the SLO was not
// judged skipped its judging task by that task's if: condition (a warm-up
// loop, say): it does not break the window either, and it is not a pass;
// skipped is its number, and the window is not full.
func windowBreak(history []experiment.LoopSummary, keys []string, current, previous, i, version int, o slo.Objective) (why string, missing, skipped int) {
	oldest := current - previous // the oldest loop in the window
	want := current - 1          // the newest loop not yet found
	for k := len(history) - 1; k >= 0 && want >= oldest && want >= 1; k-- {
		e := history[k]
		switch {
		case e.Loop > want:
			continue // (this loop's own record: not expected while it runs)
		case e.Loop < want:
			return unrecorded(want), 0, 0
		}
		outcomes, passed, undeclared := e.Aligned(keys)
		if undeclared[i] {
			break
		}
		var p []int
		if passed != nil {
			p = passed[i]
		}
		if skippedByIf(e, outcomes[i], version) {
			return "", max(want-oldest+1, 0), e.Loop
		}
		if why := unjudged(e, outcomes[i], p, version, o); why != "" {
			return why, 0, 0
		}
		want = e.Loop - e.Covers()
	}
	return "", max(want-oldest+1, 0), 0
}

// skippedByIf reports whether a single loop's entry records an SLO as not
// judged for a version while no task of the loop failed: its judging task
// was skipped by its if: condition (a failed or aborted loop sets Failure,
// and a killed one leaves no entry).
func skippedByIf(e experiment.LoopSummary, outcomes []slo.Outcome, version int) bool {
	return e.Covers() == 1 && !e.Failure && version < len(outcomes) && outcomes[version] == slo.NotJudged
}

func unrecorded(loop int) string {
	return fmt.Sprintf("not judged in loop %d (no record: it did not end, its process stopped first): a loop without a fresh judgement does not count as passed", loop)
}

// unjudged says why a history entry does not count as having held an SLO
// (objective o; its outcomes and, merged, pass counts in the entry) for a
// version in every loop it covers, or returns "".
func unjudged(e experiment.LoopSummary, outcomes []slo.Outcome, passed []int, version int, o slo.Objective) string {
	if e.Covers() > 1 && e.SLOsPassed != nil {
		// A merged entry keeps how many of its loops passed.
		n := 0
		if version < len(passed) {
			n = passed[version]
		}
		if n < e.Covers() {
			return fmt.Sprintf("passed in %d of the %d loops ending at loop %d", n, e.Covers(), e.Loop)
		}
		return ""
	}
	var got slo.Outcome
	if version < len(outcomes) {
		got = outcomes[version]
	}
	switch {
	case got == slo.Passed, got == slo.NoData && o.OnNoData == slo.IgnoreNoData:
		return ""
	case got == slo.NotJudged || got == "":
		return fmt.Sprintf("not judged in loop %d (no data): a loop without a fresh judgement does not count as passed", e.Loop)
	}
	why := fmt.Sprintf("its outcome was %s", got)
	if past := slo.Evaluate([]slo.Objective{o}, version+1, e.Insights())[0].Versions[version]; past.Outcome == got && past.Reason != "" {
		why = past.Reason // what the loop's values say, when they say the same
	}
	return fmt.Sprintf("not satisfied in loop %d: %s", e.Loop, why)
}
