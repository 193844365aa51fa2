package experiment

import (
	"fmt"

	"iter8.tools/iter8/internal/slo"
)

// Judge is implemented by tasks that judge SLOs (assess). The runner uses
// it to record, before a loop's tasks run, every SLO the spec declares as
// not judged, so that an SLO the loop does not judge (its task skipped, a
// task before it failed, or not run yet) is never taken as satisfied.
type Judge interface {
	// Objectives are the SLOs the task judges, in the order it records them.
	Objectives() []slo.Objective
}

// judgeSlot is where a judging step's verdicts live in insights.sloVerdicts.
type judgeSlot struct {
	step, offset, count int
}

// judgeSlots returns the slots of the judging steps, in spec order, and
// every objective the spec declares.
func judgeSlots(steps []Step) ([]judgeSlot, []slo.Objective) {
	var (
		slots []judgeSlot
		all   []slo.Objective
	)
	for i, s := range steps {
		j, ok := s.Task.(Judge)
		if !ok {
			continue
		}
		objs := j.Objectives()
		slots = append(slots, judgeSlot{step: i, offset: len(all), count: len(objs)})
		all = append(all, objs...)
	}
	return slots, all
}

// startLoop makes the insights describe the loop that starts: the values
// of the previous loop are dropped (they live on in the history), and every
// declared SLO is not judged until its task judges it.
func (r *Result) startLoop(steps []Step) {
	_, objs := judgeSlots(steps)
	in := r.Insights
	if in == nil {
		if len(objs) == 0 {
			return
		}
		in = &Insights{}
		r.Insights = in
	}
	in.NonHistMetricValues, in.HistMetricValues, in.SummaryMetricValues = nil, nil, nil
	in.Histograms, in.MissingValues, in.Load = nil, nil, nil
	if in.NumVersions > 0 {
		in.grow()
	}
	in.SLOVerdicts = nil
	in.SetVerdicts(0, slo.NotJudgedVerdicts(objs, in.NumVersions, fmt.Sprintf("not run yet: loop %d has not reached the task that judges it", r.NumLoops)))
}

// sloIndex returns where the SLOs of step i begin in insights.sloVerdicts.
func sloIndex(steps []Step, i int) int {
	slots, _ := judgeSlots(steps)
	for _, sl := range slots {
		if sl.step == i {
			return sl.offset
		}
	}
	return 0
}

// notJudged sets the reason of the not-judged verdicts of the judging
// steps first..last.
func (r *Result) notJudged(steps []Step, first, last int, why string) {
	if r.Insights == nil {
		return
	}
	slots, _ := judgeSlots(steps)
	for _, sl := range slots {
		if sl.step < first || sl.step > last {
			continue
		}
		for k := sl.offset; k < sl.offset+sl.count && k < len(r.Insights.SLOVerdicts); k++ {
			for i := range r.Insights.SLOVerdicts[k].Versions {
				if res := &r.Insights.SLOVerdicts[k].Versions[i]; res.Outcome == slo.NotJudged {
					res.Reason = why
				}
			}
		}
	}
	r.Insights.syncSLOs()
}

// SetVerdicts records verdicts at position offset of sloVerdicts (the
// place of the judging task's SLOs among all the spec declares), growing
// the list as needed, and keeps the original's SLOs and SLOsSatisfied in
// step with the verdicts.
func (in *Insights) SetVerdicts(offset int, vs []slo.Verdict) {
	if offset < 0 {
		offset = 0
	}
	for len(in.SLOVerdicts) < offset+len(vs) {
		in.SLOVerdicts = append(in.SLOVerdicts, slo.Verdict{})
	}
	copy(in.SLOVerdicts[offset:], vs)
	in.syncSLOs()
}

// syncSLOs derives the original's SLOs and SLOsSatisfied from the verdicts.
func (in *Insights) syncSLOs() {
	if len(in.SLOVerdicts) == 0 {
		in.SLOs, in.SLOsSatisfied = nil, nil
		return
	}
	limits, sat := &SLOLimits{}, &SLOResults{}
	for _, v := range in.SLOVerdicts {
		s := SLO{Metric: v.Metric, Limit: v.Limit, OnNoData: v.OnNoData}
		row := make([]bool, len(v.Versions))
		for i, r := range v.Versions {
			row[i] = r.Satisfied()
		}
		if v.Direction == slo.Lower {
			limits.Lower, sat.Lower = append(limits.Lower, s), append(sat.Lower, row)
		} else {
			limits.Upper, sat.Upper = append(limits.Upper, s), append(sat.Upper, row)
		}
	}
	in.SLOs, in.SLOsSatisfied = limits, sat
}
