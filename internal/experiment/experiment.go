// Package experiment holds iter8's central document, the experiment (an
// ordered spec of tasks plus the result they record), its YAML codec and
// validation, the explicit task registry, and the runner that executes the
// tasks loop by loop and saves the experiment after every task.
package experiment

import (
	"time"

	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/slo"
)

// Experiment is the spec (ordered tasks) and the result they record. Field
// names follow the original Iter8 v0.11-v0.13 so their files load.
type Experiment struct {
	Spec   []TaskSpec `json:"spec"`
	Result *Result    `json:"result,omitempty"`
}

// TaskSpec is one entry of the spec: a named task with inputs, or a run
// script, with an optional if: condition.
type TaskSpec struct {
	Task *string        `json:"task,omitempty"`
	Run  *string        `json:"run,omitempty"`
	If   *string        `json:"if,omitempty"`
	With map[string]any `json:"with,omitempty"`
}

// Name is the registry name of the task ("run" for run scripts).
func (t TaskSpec) Name() string {
	switch {
	case t.Task != nil:
		return *t.Task
	case t.Run != nil:
		return "run"
	}
	return ""
}

// Result is the progress and outcome of an experiment.
type Result struct {
	Revision          int       `json:"revision,omitempty"`
	StartTime         time.Time `json:"startTime"`
	NumLoops          int       `json:"numLoops"`
	NumCompletedTasks int       `json:"numCompletedTasks"`
	Failure           bool      `json:"failure"`
	// FailureReason says which task failed and why (new in this iter8).
	FailureReason string `json:"failureReason,omitempty"`
	// Aborted is set when a task stopped the experiment early (an SLO
	// breached with abortOnFailure, or a load task's abort condition).
	Aborted bool `json:"aborted,omitempty"`
	// LoopStartTime is when the latest loop started (new): a loop found
	// interrupted is recorded in the history at that time.
	LoopStartTime *time.Time `json:"loopStartTime,omitempty"`
	// Tasks is the state of each task in the latest loop (new).
	Tasks    []TaskStatus `json:"tasks,omitempty"`
	Insights *Insights    `json:"insights,omitempty"`
	// History summarises each loop, oldest first (new): the values SLOs and
	// trend charts need, bounded in size however many loops run.
	History      []LoopSummary `json:"history,omitempty"`
	Iter8Version string        `json:"iter8Version"`
	// Iter8Build is the full version of the iter8 that ran the latest loop
	// in a Kubernetes pod (new), such as v0.14.0+g1234567: k report and
	// k assert warn when it is not the CLI's version.
	Iter8Build string `json:"iter8Build,omitempty"`
	// Job is the Kubernetes Job that runs the latest loop of a
	// distributed run (new; set only then).
	Job string `json:"job,omitempty"`
	// Distributed coordinates the generator pods of load tasks with
	// replicas while they run (new; see Distributed).
	Distributed []Distributed `json:"distributed,omitempty"`
}

// LoopSummary is the compact record of one loop or, for older loops, of a
// run of consecutive loops merged together (see History).
type LoopSummary struct {
	// Loop is the (last) loop the entry covers.
	Loop int `json:"loop"`
	// Loops is how many consecutive loops, ending at Loop, the entry covers
	// (absent: 1).
	Loops     int       `json:"loops,omitempty"`
	StartTime time.Time `json:"startTime"`
	// Failure is set when a task failed in a loop covered (unlike the
	// result's, it is not sticky); Failures counts such loops in a merged
	// entry.
	Failure  bool `json:"failure,omitempty"`
	Failures int  `json:"failures,omitempty"`
	// Values holds, per version, each scalar metric's value at the end of
	// the loop (the mean over the loops covered, for a merged entry).
	Values []map[string]float64 `json:"values,omitempty"`
	// Histograms holds, per version, the latency histograms of the loops
	// covered, merged (HDR, V2 compressed, base64).
	Histograms []map[string]string `json:"histograms,omitempty"`
	// SLOs holds each SLO's outcome per version in the (last) loop, in the
	// order of insights.sloVerdicts.
	SLOs [][]slo.Outcome `json:"slos,omitempty"`
	// SLOKeys names the SLO of each row of SLOs (and SLOsPassed) by its
	// objective, as reports show it ("http/latency-p99 <= 100"), so that
	// a later loop whose spec changed its SLOs reads each one's outcomes,
	// not another's at the same position (see Aligned). Absent in entries
	// recorded before it existed, which are read by position.
	SLOKeys []string `json:"sloKeys,omitempty"`
	// SLOsPassed counts, for a merged entry, the loops in which each SLO
	// held, per version: passed, or had no data that the SLO ignores.
	SLOsPassed [][]int `json:"slosPassed,omitempty"`
}

// Covers returns how many loops the entry covers.
func (s LoopSummary) Covers() int { return max(s.Loops, 1) }

// TaskState is where a task is in the latest loop.
type TaskState string

// Task states.
const (
	Pending   TaskState = "pending"
	Running   TaskState = "running"
	Completed TaskState = "completed"
	Skipped   TaskState = "skipped"
	Failed    TaskState = "failed"
)

// TaskStatus records how one task fared in the latest loop.
type TaskStatus struct {
	Name            string    `json:"name"`
	State           TaskState `json:"state"`
	Error           string    `json:"error,omitempty"`
	DurationSeconds float64   `json:"durationSeconds,omitempty"`
	// Warnings name the inputs of the experiment file that were ignored
	// (new): keys no task knows, which the original ignored silently.
	Warnings []string `json:"warnings,omitempty"`
}

// Completed reports whether every task of the latest loop has completed
// (a skipped task counts as completed, as in the original).
func (e *Experiment) Completed() bool {
	r := e.Result
	// A result written before numLoops existed (v0.10-v0.11, the original's
	// testdata/assertinputs) has none: as in the original, completed then
	// means every task completed. Zero completed tasks in zero loops is an
	// experiment that has not started.
	return e.Started() && r.NumCompletedTasks == len(e.Spec)
}

// Started reports whether a loop has started. A result written before
// numLoops existed (v0.10-v0.11) has started when a task completed.
func (e *Experiment) Started() bool {
	r := e.Result
	return r != nil && (r.NumLoops > 0 || r.NumCompletedTasks > 0)
}

// NoFailure reports whether no task has failed.
func (e *Experiment) NoFailure() bool {
	return e.Result != nil && !e.Result.Failure
}

// SLOs reports whether every version satisfies every SLO, as iter8 assert
// -c slos checks: false when there are no insights yet, and when the
// experiment declares no SLO (nothing was checked).
func (e *Experiment) SLOs() bool {
	if e.Result == nil || e.Result.Insights == nil {
		return false
	}
	in := e.Result.Insights
	if len(in.SLOVerdicts) > 0 {
		return slo.Satisfied(in.SLOVerdicts)
	}
	if in.SLOsSatisfied == nil {
		return false
	}
	for _, m := range [][][]bool{in.SLOsSatisfied.Upper, in.SLOsSatisfied.Lower} {
		for _, row := range m {
			for _, ok := range row {
				if !ok {
					return false
				}
			}
		}
	}
	return true
}

// VersionInfo names a version (and, for A/B/n experiments, its track).
type VersionInfo struct {
	Version string `json:"version,omitempty"`
	Track   string `json:"track,omitempty"`
}

// SLO is one objective in the original's spec form, plus what no data
// means (new; "fail", the default, or "ignore").
type SLO struct {
	Metric   string           `json:"metric"`
	Limit    float64          `json:"limit"`
	OnNoData slo.NoDataPolicy `json:"onNoData,omitempty"`
}

// SLOLimits are the upper and lower objectives.
type SLOLimits struct {
	Upper []SLO `json:"upper,omitempty"`
	Lower []SLO `json:"lower,omitempty"`
}

// SLOResults is the original's satisfaction matrix, [slo][version].
type SLOResults struct {
	Upper [][]bool `json:"upper,omitempty"`
	Lower [][]bool `json:"lower,omitempty"`
}

// Insights are the metric values and SLO verdicts an experiment has recorded.
// The first nine fields keep the original's names and shapes; the rest are
// new.
type Insights struct {
	NumVersions  int                     `json:"numVersions"`
	VersionNames []VersionInfo           `json:"versionNames,omitempty"`
	MetricsInfo  map[string]metrics.Meta `json:"metricsInfo,omitempty"`
	// NonHistMetricValues holds, per version, each scalar metric's value. The
	// original appended one value per loop without bound; this iter8 keeps the
	// latest (the value the original's readers used) and bounds history
	// elsewhere.
	NonHistMetricValues []map[string][]float64        `json:"nonHistMetricValues,omitempty"`
	HistMetricValues    []map[string][]metrics.Bucket `json:"histMetricValues,omitempty"`
	SummaryMetricValues []map[string][]float64        `json:"SummaryMetricValues,omitempty"`
	SLOs                *SLOLimits                    `json:"SLOs,omitempty"`
	SLOsSatisfied       *SLOResults                   `json:"SLOsSatisfied,omitempty"`

	// Histograms holds, per version, the HDR histogram (microseconds,
	// V2 compressed, base64) behind each latency metric.
	Histograms []map[string]string `json:"histograms,omitempty"`
	// SLOVerdicts says, per SLO and version, the value, the limit and the
	// outcome (passed, failed, noData or invalid).
	SLOVerdicts []slo.Verdict `json:"sloVerdicts,omitempty"`
	// Load describes each load provider's run (http, http-<endpoint>, grpc…).
	Load map[string]*LoadStats `json:"load,omitempty"`
	// MissingValues says, per version, why a metric that a task tried to
	// measure has no value: its query failed (outcome error) or returned
	// nothing (outcome noData).
	MissingValues []map[string]MissingValue `json:"missingValues,omitempty"`
}

// MissingValue records why a metric has no value.
type MissingValue struct {
	// Outcome is slo.Error when the query failed, slo.NoData when it
	// succeeded without a value.
	Outcome slo.Outcome `json:"outcome"`
	Reason  string      `json:"reason"`
}

// LoadStats is what a load task measured besides its metrics.
type LoadStats struct {
	// Mode is "open" (fixed rate) or "closed" (as fast as responses return).
	Mode string `json:"mode"`
	// Protocol is the protocol used, e.g. HTTP/1.1 or HTTP/2.0.
	Protocol        string  `json:"protocol,omitempty"`
	Requests        int64   `json:"requests"`
	Errors          int64   `json:"errors"`
	DurationSeconds float64 `json:"durationSeconds"`
	// Codes counts responses by status code and failures by error kind.
	Codes        map[string]int64 `json:"codes,omitempty"`
	IntendedRate float64          `json:"intendedRate,omitempty"`
	AchievedRate float64          `json:"achievedRate"`
	// Delayed counts requests that started late because no connection was free.
	Delayed int64 `json:"delayed,omitempty"`
	// Unsent counts requests due within the duration (or before an abort)
	// that could not start before it ended.
	Unsent int64 `json:"unsent,omitempty"`
	// UnsentHeld counts the unsent requests that waited for a connection
	// the target held until the run ended: they are in the latency at
	// that wait, as lower bounds.
	UnsentHeld int64 `json:"unsentHeld,omitempty"`
	// Ignored counts the requests in flight when the duration ended that
	// duration-stop ignore left out of every figure.
	Ignored int64 `json:"ignored,omitempty"`
	// TimedOut counts requests that got no answer within their timeout; they
	// are in the latency histograms at their timeout at least (lower bounds).
	TimedOut int64 `json:"timedOut,omitempty"`
	// Replayed counts requests sent again over a new connection after the
	// one that carried them closed or reset without an answer, although
	// they may have reached the server (idempotent HTTP/1.1 requests, as
	// net/http's Transport replays them); each counts once, with the
	// outcome of its second send.
	Replayed int64 `json:"replayed,omitempty"`
	// Connections is the most connections the run used; in open loop they
	// grow on demand from InitialConnections up to MaxConnections.
	Connections        int `json:"connections,omitempty"`
	InitialConnections int `json:"initialConnections,omitempty"`
	MaxConnections     int `json:"maxConnections,omitempty"`
	// LatenessMs is the median lateness of request starts (open loop), and
	// GeneratorLagP99Ms the 99th percentile of the generator's own part of
	// it (late while a connection was free), which is not charged to the
	// target's latency.
	LatenessMs        float64 `json:"latenessMs,omitempty"`
	GeneratorLagP99Ms float64 `json:"generatorLagP99Ms,omitempty"`
	// ConnectionBound is set when every connection up to the cap was busy
	// with a target too slow for the rate: a warning (Warning says why),
	// the waits are in the latency.
	ConnectionBound bool   `json:"connectionBound,omitempty"`
	Warning         string `json:"warning,omitempty"`
	// Saturated is set when the generator fell behind its schedule while
	// connections were free; SLO verdicts judged on this run's metrics are
	// then invalid.
	Saturated        bool   `json:"saturated,omitempty"`
	SaturationReason string `json:"saturationReason,omitempty"`
	// Aborted says why the run stopped early on an abort condition.
	Aborted        string  `json:"aborted,omitempty"`
	CPUUtilization float64 `json:"cpuUtilization,omitempty"`
	// CPUWait is how long the generator's threads were ready to run but
	// waited for a CPU that other processes had, on CPUUtilization's
	// scale (Linux only).
	CPUWait float64 `json:"cpuWait,omitempty"`
	// Name and Tags are the run's name and tags (ghz's name and tags).
	Name string            `json:"name,omitempty"`
	Tags map[string]string `json:"tags,omitempty"`
	// Pods is each generator pod's share and health when the run was
	// distributed over several pods (replicas); CPUUtilization is then
	// their mean.
	Pods []PodLoad `json:"pods,omitempty"`
}
