package task

import (
	"context"
	"fmt"
	"math"

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
	if t.in.SLOs == nil {
		return t, nil
	}
	for dir, list := range map[slo.Direction][]experiment.SLO{slo.Upper: t.in.SLOs.Upper, slo.Lower: t.in.SLOs.Lower} {
		for i, s := range list {
			field := fmt.Sprintf("SLOs.%s[%d]", dir, i)
			n, err := metrics.ParseName(s.Metric)
			if err != nil {
				return nil, &inputs.FieldError{Field: field + ".metric", Value: s.Metric, Expected: "a metric name such as http/latency-mean or http/latency-p99"}
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

func (t *assessTask) Inputs() any { return t.in }

// Run judges every SLO for every version and records the verdicts, both in
// the original's SLOsSatisfied matrix and as typed verdicts with values.
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
	if len(t.objectives) == 0 {
		env.Logger.Warn("assess has no SLOs to check")
		in.SLOs, in.SLOsSatisfied, in.SLOVerdicts = nil, nil, nil
		return nil
	}
	verdicts := slo.Evaluate(t.objectives, in.NumVersions, in)
	if t.in.Window != nil && *t.in.Window > 1 {
		applyWindow(verdicts, res.History, *t.in.Window-1)
	}
	in.SLOs = t.in.SLOs
	in.SLOVerdicts = verdicts
	sat := &experiment.SLOResults{}
	for _, v := range verdicts {
		row := make([]bool, len(v.Versions))
		for i, r := range v.Versions {
			// The original's matrix says whether the SLO holds against the
			// experiment; ignored no data does, and the verdict says no data.
			row[i] = r.Satisfied()
			switch {
			case r.Outcome == slo.Passed:
			case r.Satisfied():
				env.Logger.Warn("SLO has no data; ignored (onNoData: ignore)", "slo", v.String(), "version", i, "reason", r.Reason)
			default:
				env.Logger.Info("SLO not satisfied", "slo", v.String(), "version", i, "outcome", string(r.Outcome), "reason", r.Reason)
			}
		}
		if v.Direction == slo.Upper {
			sat.Upper = append(sat.Upper, row)
		} else {
			sat.Lower = append(sat.Lower, row)
		}
	}
	in.SLOsSatisfied = sat
	if t.in.AbortOnFailure && !slo.Satisfied(verdicts) {
		return fmt.Errorf("%w: an SLO is not satisfied and abortOnFailure is set (%s)", experiment.ErrAbort, firstUnmet(verdicts, in))
	}
	return nil
}

func firstUnmet(verdicts []slo.Verdict, in *experiment.Insights) string {
	for _, v := range verdicts {
		for i, r := range v.Versions {
			if r.Outcome != slo.Passed {
				return fmt.Sprintf("%s for %s: %s", v.String(), in.VersionLabel(i), r.Reason)
			}
		}
	}
	return ""
}

// applyWindow fails a passing verdict that did not hold in each of the
// previous loops of the window, judged on the values kept in the history
// (a merged history entry counts as one loop, with the mean of its loops).
func applyWindow(verdicts []slo.Verdict, history []experiment.LoopSummary, previous int) {
	start := max(len(history)-previous, 0)
	recent := history[start:]
	for vi := range verdicts {
		v := &verdicts[vi]
		for ver := range v.Versions {
			r := &v.Versions[ver]
			if r.Outcome != slo.Passed {
				continue
			}
			for k := len(recent) - 1; k >= 0; k-- {
				src := recent[k].Insights()
				past := slo.Evaluate([]slo.Objective{v.Objective}, ver+1, src)[0].Versions[ver]
				if past.Outcome == slo.Passed {
					continue
				}
				r.Outcome = slo.Failed
				if past.Outcome == slo.NoData {
					r.Outcome = slo.NoData
				}
				r.Reason = fmt.Sprintf("not satisfied in loop %d of the window of %d loops: %s", recent[k].Loop, previous+1, past.Reason)
				break
			}
		}
	}
}
