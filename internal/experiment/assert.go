package experiment

import (
	"fmt"
	"strings"

	"iter8.tools/iter8/internal/slo"
)

// Assertion is a condition checked by iter8 assert.
type Assertion string

// Assertions.
const (
	AssertCompleted Assertion = "completed"
	AssertNoFailure Assertion = "nofailure"
	AssertSLOs      Assertion = "slos"
)

// ParseAssertions parses condition names, case-insensitively; each entry may
// hold several comma-separated names.
func ParseAssertions(list []string) ([]Assertion, error) {
	var out []Assertion
	for _, item := range list {
		for _, s := range strings.Split(item, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			switch a := Assertion(strings.ToLower(s)); a {
			case AssertCompleted, AssertNoFailure, AssertSLOs:
				out = append(out, a)
			default:
				return nil, invalidf("unknown assert condition %q: expected completed, nofailure or slos", s)
			}
		}
	}
	if len(out) == 0 {
		return nil, invalidf("no assert condition given: expected one or more of completed, nofailure, slos (-c completed -c nofailure -c slos)")
	}
	return out, nil
}

// Check evaluates assertions and returns one message per condition that does
// not hold, naming the condition and, for SLOs, each failing SLO with its
// value and limit. An empty result means every condition holds.
func (e *Experiment) Check(as []Assertion) []string {
	var out []string
	r := e.Result
	for _, a := range as {
		switch a {
		case AssertCompleted:
			switch {
			case !e.Started():
				out = append(out, "completed: the experiment has not started")
			case !e.Completed() && r.NumLoops == 0:
				out = append(out, fmt.Sprintf("completed: %d of %d tasks have completed", r.NumCompletedTasks, len(e.Spec)))
			case !e.Completed():
				out = append(out, fmt.Sprintf("completed: %d of %d tasks have completed in loop %d", r.NumCompletedTasks, len(e.Spec), r.NumLoops))
			}
		case AssertNoFailure:
			switch {
			case r == nil:
				out = append(out, "nofailure: the experiment has not started")
			case r.Failure:
				reason := r.FailureReason
				if reason == "" {
					reason = "a task failed"
				}
				out = append(out, "nofailure: "+reason)
			}
		case AssertSLOs:
			out = append(out, e.checkSLOs()...)
		}
	}
	return out
}

// checkSLOs holds only when the latest loop judged every declared SLO for
// every version and all passed (no data that an SLO ignores aside). An SLO
// not judged in the latest loop is not satisfied, and neither is an
// experiment that declares no SLO: there is nothing the gate checked.
func (e *Experiment) checkSLOs() []string {
	r := e.Result
	if !e.Started() {
		return []string{"slos: the experiment has not started: its SLOs are not judged yet"}
	}
	in := r.Insights
	if in == nil || (len(in.SLOVerdicts) == 0 && in.SLOsSatisfied == nil) {
		return []string{"slos: the experiment declares no SLO, so there is nothing to satisfy: add an assess task with SLOs (for example --set assess.SLOs.upper.http/error-count=0)"}
	}
	var out []string
	if len(in.SLOVerdicts) > 0 {
		for _, v := range in.SLOVerdicts {
			if len(v.Versions) == 0 {
				out = append(out, fmt.Sprintf("slos: SLO %s is not judged for any version", v.String()))
			}
			for i, res := range v.Versions {
				if res.Satisfied() {
					continue
				}
				msg := fmt.Sprintf("slos: SLO %s is not satisfied by %s: ", v.String(), in.VersionLabel(i))
				switch res.Outcome {
				case slo.NoData:
					msg += "no data (" + res.Reason + ")"
				case slo.NotJudged:
					msg += "not judged (" + res.Reason + ")"
				case slo.Error:
					msg += "its query failed (" + res.Reason + ")"
				case slo.Invalid:
					if res.Value != nil {
						msg += fmt.Sprintf("value %.4g is from an %s", *res.Value, res.Reason)
					} else {
						msg += "no valid value (" + res.Reason + ")"
					}
				default:
					msg += res.Reason
				}
				out = append(out, msg)
			}
		}
		return out
	}
	if !e.SLOs() {
		out = append(out, originalUnmet(in)...)
	}
	return out
}

// originalUnmet names each SLO and version that the original's matrix
// (SLOsSatisfied, of a result written by the original Iter8) records as not
// satisfied, with the version's value when the result has it.
func originalUnmet(in *Insights) []string {
	var out []string
	for _, d := range []struct {
		dir  string
		op   string
		slos []SLO
		rows [][]bool
	}{{"upper", "<=", sloList(in.SLOs, true), in.SLOsSatisfied.Upper}, {"lower", ">=", sloList(in.SLOs, false), in.SLOsSatisfied.Lower}} {
		for i, row := range d.rows {
			name := fmt.Sprintf("%s SLO %d", d.dir, i+1)
			metric := ""
			if i < len(d.slos) {
				metric = d.slos[i].Metric
				name = fmt.Sprintf("%s %s %g", metric, d.op, d.slos[i].Limit)
			}
			for v, ok := range row {
				if ok {
					continue
				}
				msg := fmt.Sprintf("slos: SLO %s is not satisfied by %s (SLOsSatisfied)", name, in.VersionLabel(v))
				if x, found := in.Value(metric, v); metric != "" && found {
					msg += fmt.Sprintf(": value %.4g", x)
				}
				out = append(out, msg)
			}
		}
	}
	if len(out) == 0 {
		out = append(out, "slos: SLOsSatisfied records an SLO that is not satisfied")
	}
	return out
}

// sloList is the upper or lower SLOs of l (nil for none).
func sloList(l *SLOLimits, upper bool) []SLO {
	switch {
	case l == nil:
		return nil
	case upper:
		return l.Upper
	}
	return l.Lower
}

// CheckDeclared is the slos condition's check that the latest loop judged
// the SLOs that steps (the experiment's spec, built) declare: an SLO added
// to the spec after that loop ran, or given a new limit, has no verdict,
// which is not satisfied. It returns one message per such SLO; none when
// the experiment has not started or its result records only the
// original's matrix (Check says so).
func (e *Experiment) CheckDeclared(steps []Step) []string {
	if !e.Started() || e.Result.Insights == nil || len(e.Result.Insights.SLOVerdicts) == 0 {
		return nil
	}
	_, objs := judgeSlots(steps)
	judged := map[string]int{}
	for _, k := range SLOKeys(e.Result.Insights.SLOVerdicts) {
		judged[k]++
	}
	var out []string
	for _, o := range objs {
		k := SLOKey(o)
		if judged[k] > 0 {
			judged[k]--
			continue
		}
		out = append(out, fmt.Sprintf("slos: SLO %s is declared in the spec but the latest loop (%d) did not judge it: the spec changed after that loop ran; run the experiment again", k, e.Result.NumLoops))
	}
	return out
}

// Finished reports whether the latest loop has ended: every task completed
// (or was skipped), or a task of the loop failed. A failure of an earlier
// loop does not finish a later loop that is still running.
func (e *Experiment) Finished() bool {
	if e.Completed() {
		return true
	}
	r := e.Result
	if r == nil || r.NumLoops == 0 {
		return false
	}
	if len(r.Tasks) == 0 {
		// Written by an iter8 that kept no task states: the original's
		// sticky failure is all there is.
		return r.Failure
	}
	for _, t := range r.Tasks {
		if t.State == Failed {
			return true
		}
	}
	return false
}

// Notes returns what assert should say about SLOs even when they hold: each
// SLO whose missing data is ignored (onNoData: ignore), with the reason.
func (e *Experiment) Notes() []string {
	if e.Result == nil || e.Result.Insights == nil {
		return nil
	}
	in := e.Result.Insights
	var out []string
	for _, v := range in.SLOVerdicts {
		for i, res := range v.Versions {
			if res.Outcome == slo.NoData && res.Ignored {
				out = append(out, fmt.Sprintf("slos: SLO %s has no data for %s (%s); ignored because its onNoData is ignore", v.String(), in.VersionLabel(i), res.Reason))
			}
		}
	}
	return out
}

// VersionLabel names version i for messages and reports: its track and/or
// version name when known, else "version i".
func (in *Insights) VersionLabel(i int) string {
	if in != nil && i < len(in.VersionNames) {
		v := in.VersionNames[i]
		switch {
		case v.Track != "" && v.Version != "":
			return v.Track + " (" + v.Version + ")"
		case v.Version != "":
			return v.Version
		case v.Track != "":
			return v.Track
		}
	}
	return fmt.Sprintf("version %d", i)
}

// TrackVersionStr is VersionLabel under the original's name, so if:
// expressions written for the original (Result.Insights.TrackVersionStr(0))
// keep working.
func (in *Insights) TrackVersionStr(i int) string { return in.VersionLabel(i) }

// ScalarMetricValue returns the value of metric m for version i, or nil
// when there is none: the original's accessor, kept for if: expressions
// such as Result.Insights.ScalarMetricValue(0, "http/latency-mean") < 100.
func (in *Insights) ScalarMetricValue(i int, m string) *float64 {
	if in == nil {
		return nil
	}
	v, ok := in.Value(m, i)
	if !ok {
		return nil
	}
	return &v
}
