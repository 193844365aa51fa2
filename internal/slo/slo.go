// Package slo evaluates service level objectives. Evaluation is a pure
// function of objectives and metric values, so it is tested without running
// anything.
package slo

import (
	"math"
	"strconv"
)

// Direction says which side of the limit satisfies an objective.
type Direction string

// Directions.
const (
	Upper Direction = "upper" // value <= limit
	Lower Direction = "lower" // value >= limit
)

// Outcome is the verdict of one objective for one version.
type Outcome string

// Outcomes.
const (
	Passed  Outcome = "passed"
	Failed  Outcome = "failed"
	NoData  Outcome = "noData"
	Invalid Outcome = "invalid"
	// Error means the value could not be obtained: its query failed. Unlike
	// no data, it is never ignored.
	Error Outcome = "error"
	// NotJudged means the objective was not judged in the latest loop: the
	// task judging it was skipped by its if: condition, a task before it
	// failed, or it has not run yet. It is never satisfied and never
	// ignored; the reason says why.
	NotJudged Outcome = "notJudged"
)

// NoDataPolicy says what an objective without data means.
type NoDataPolicy string

// No-data policies.
const (
	// FailOnNoData (the default) fails the objective when there is no value.
	FailOnNoData NoDataPolicy = "fail"
	// IgnoreNoData reports the objective as no data but does not let it fail
	// the experiment.
	IgnoreNoData NoDataPolicy = "ignore"
)

// Objective is one SLO: a metric, a limit, a direction and what no data
// means (empty is FailOnNoData).
type Objective struct {
	Metric    string       `json:"metric"`
	Limit     float64      `json:"limit"`
	Direction Direction    `json:"direction"`
	OnNoData  NoDataPolicy `json:"onNoData,omitempty"`
}

// String renders the objective as the original text report did:
// "http/latency-mean <= 50" or "1 <= myprom/request-count".
func (o Objective) String() string {
	return o.Format("")
}

// Format renders the objective with optional units after the metric name.
func (o Objective) Format(units string) string {
	m := o.Metric
	if units != "" {
		m += " (" + units + ")"
	}
	l := strconv.FormatFloat(o.Limit, 'f', -1, 64)
	if o.Direction == Lower {
		return l + " <= " + m
	}
	return m + " <= " + l
}

// Verdict is the outcome of one objective for every version.
type Verdict struct {
	Objective
	Versions []Result `json:"versions"`
}

// Result is one objective's outcome for one version, with the value it was
// judged on (absent when there was no data) and, when not passed, why.
type Result struct {
	Value   *float64 `json:"value,omitempty"`
	Outcome Outcome  `json:"outcome"`
	Reason  string   `json:"reason,omitempty"`
	// Ignored is set on a no-data outcome whose objective has onNoData:
	// ignore; it does not count against the experiment.
	Ignored bool `json:"ignored,omitempty"`
	// Loop is the outcome of this loop's values alone, when a window over
	// earlier loops changed Outcome; the history records it.
	Loop Outcome `json:"loopOutcome,omitempty"`
}

// Satisfied reports whether the result does not count against the
// experiment: it passed, or had no data that its objective ignores.
func (r Result) Satisfied() bool {
	return r.Outcome == Passed || (r.Outcome == NoData && r.Ignored)
}

// Source supplies what evaluation needs to know about metric values.
type Source interface {
	// Value returns the latest value of a metric for a version.
	Value(metric string, version int) (float64, bool)
	// Invalid returns a reason when the value of the metric for the version
	// came from a run whose measurements cannot be trusted (for example a
	// saturated load generator), or "" when it can be trusted.
	Invalid(metric string, version int) string
	// Missing says why a metric has no value for a version: the reason, and
	// whether its query failed (an error) rather than returned no value. The
	// reason is "" when nothing is known.
	Missing(metric string, version int) (reason string, failed bool)
}

// Evaluate judges every objective for versions 0..versions-1.
func Evaluate(objectives []Objective, versions int, src Source) []Verdict {
	out := make([]Verdict, 0, len(objectives))
	for _, o := range objectives {
		v := Verdict{Objective: o, Versions: make([]Result, versions)}
		for i := range versions {
			v.Versions[i] = judge(o, i, src)
		}
		out = append(out, v)
	}
	return out
}

func judge(o Objective, version int, src Source) Result {
	val, ok := src.Value(o.Metric, version)
	if !ok || math.IsNaN(val) {
		reason, failed := src.Missing(o.Metric, version)
		if failed {
			return Result{Outcome: Error, Reason: reason}
		}
		if reason == "" {
			reason = "no value was recorded for " + o.Metric
		}
		return Result{Outcome: NoData, Reason: reason, Ignored: o.OnNoData == IgnoreNoData}
	}
	r := Result{Value: &val}
	if why := src.Invalid(o.Metric, version); why != "" {
		r.Outcome, r.Reason = Invalid, why
		return r
	}
	ok = val <= o.Limit
	if o.Direction == Lower {
		ok = val >= o.Limit
	}
	if ok {
		r.Outcome = Passed
	} else {
		r.Outcome = Failed
		r.Reason = "value " + Beside(val, o.Limit, strconv.FormatFloat(val, 'g', 6, 64)) + " is " + map[Direction]string{Upper: "above", Lower: "below"}[o.Direction] + " the limit " + strconv.FormatFloat(o.Limit, 'f', -1, 64)
	}
	return r
}

// NotJudgedVerdicts returns a NotJudged verdict, with the reason, for every
// objective and versions 0..versions-1 (at least one).
func NotJudgedVerdicts(objectives []Objective, versions int, reason string) []Verdict {
	out := make([]Verdict, 0, len(objectives))
	for _, o := range objectives {
		v := Verdict{Objective: o, Versions: make([]Result, max(versions, 1))}
		for i := range v.Versions {
			v.Versions[i] = Result{Outcome: NotJudged, Reason: reason}
		}
		out = append(out, v)
	}
	return out
}

// Satisfied reports whether every objective passed for every version, no
// data that an objective ignores aside. No objective at all is not
// satisfied: there is nothing a gate could have checked.
func Satisfied(verdicts []Verdict) bool {
	if len(verdicts) == 0 {
		return false
	}
	for _, v := range verdicts {
		if len(v.Versions) == 0 {
			return false
		}
		for _, r := range v.Versions {
			if !r.Satisfied() {
				return false
			}
		}
	}
	return true
}

// Beside returns short, a rounded rendering of v, unless it would read as
// the limit while v is not the limit (0.1000001 against 0.1): then the
// shortest rendering that tells them apart, so that a value shown beside
// its verdict never contradicts it.
func Beside(v, limit float64, short string) string {
	if v == limit {
		return short
	}
	if p, err := strconv.ParseFloat(short, 64); err == nil && p != limit {
		return short
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
