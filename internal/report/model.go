package report

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/slo"
)

// SchemaVersion identifies the shape of Report in JSON. It changes only when
// a field is removed or changes meaning; new fields may be added within a
// version (docs/report-json.md).
const SchemaVersion = "iter8.report/v1"

// Report is what every format shows, built once from an experiment by New.
// Its JSON encoding is the documented output of `iter8 report -o json`.
type Report struct {
	SchemaVersion string     `json:"schemaVersion"`
	Iter8Version  string     `json:"iter8Version,omitempty"`
	StartTime     *time.Time `json:"startTime,omitempty"`
	Status        Status     `json:"status"`
	Tasks         []Task     `json:"tasks"`
	// Versions are the labels of the versions, in order; every per-version
	// list below follows this order.
	Versions []string  `json:"versions"`
	SLOs     []SLO     `json:"slos"`
	Metrics  []Metric  `json:"metrics"`
	Latency  []Latency `json:"latency"`
	Load     []Load    `json:"load"`
	Loops    []Loop    `json:"loops"`

	// taskStates is set when the result keeps each task's state (files
	// written by the original keep none).
	taskStates bool
	// verdicts is set when the SLOs were judged by this iter8 (values and
	// outcomes), not only recorded as true or false by the original.
	verdicts bool
}

// Status is the experiment's overall state.
type Status struct {
	Completed     bool   `json:"completed"`
	Failure       bool   `json:"failure"`
	FailureReason string `json:"failureReason,omitempty"`
	// Aborted is set when a task stopped the experiment early (an SLO
	// breached with abortOnFailure, or a load task's abort condition).
	Aborted        bool `json:"aborted"`
	Tasks          int  `json:"tasks"`
	CompletedTasks int  `json:"completedTasks"`
	Loops          int  `json:"loops"`
	// Insights is false until a task has recorded metrics or SLO verdicts.
	Insights bool `json:"insights"`
	// SLOsSatisfied is what `iter8 assert -c slos` checks.
	SLOsSatisfied bool `json:"slosSatisfied"`
	// Warnings say why measurements cannot be trusted, e.g. a load generator
	// that could not deliver the intended rate.
	Warnings []string `json:"warnings,omitempty"`
}

// Task is one task of the spec and how it fared in the latest loop.
type Task struct {
	Index           int     `json:"index"`
	Name            string  `json:"name"`
	State           string  `json:"state"`
	DurationSeconds float64 `json:"durationSeconds,omitempty"`
	Error           string  `json:"error,omitempty"`
	If              string  `json:"if,omitempty"`
	// Targets are the URLs a load task sends requests to.
	Targets []string `json:"targets,omitempty"`
	// Warnings name the task's inputs that were ignored (unknown keys).
	Warnings []string `json:"warnings,omitempty"`
}

// SLO is one objective and its outcome for every version.
type SLO struct {
	Metric      string        `json:"metric"`
	Description string        `json:"description,omitempty"`
	Units       string        `json:"units,omitempty"`
	Direction   slo.Direction `json:"direction"`
	Limit       float64       `json:"limit"`
	// OnNoData is "ignore" when no data does not fail the SLO.
	OnNoData slo.NoDataPolicy `json:"onNoData,omitempty"`
	// Condition is the objective as text: "http/latency-mean (msec) <= 50".
	Condition string      `json:"condition"`
	Results   []SLOResult `json:"results"`
}

// SLOResult is an objective's outcome for one version.
type SLOResult struct {
	Version string `json:"version"`
	// Value is the value the objective was judged on; absent for no data.
	Value   *float64    `json:"value,omitempty"`
	Outcome slo.Outcome `json:"outcome"`
	Reason  string      `json:"reason,omitempty"`
	// Ignored is set on a noData outcome that does not count against the
	// experiment (onNoData: ignore).
	Ignored bool `json:"ignored,omitempty"`
	// Window is set when a window of loops decided the outcome, not this
	// loop's value alone: a failure then says why (Reason), since the
	// value shown may be within the limit.
	Window bool `json:"-"`
}

// windowReasons lists the results that a window failed though the value
// shown may hold: "condition, version: reason".
func (r *Report) windowReasons() []string {
	var out []string
	for _, s := range r.SLOs {
		for _, res := range s.Results {
			if res.Window && res.Outcome == slo.Failed && res.Reason != "" {
				who := s.Condition
				if len(s.Results) > 1 {
					who += ", " + res.Version
				}
				out = append(out, who+": "+res.Reason)
			}
		}
	}
	return out
}

// Satisfied reports whether the result does not count against the
// experiment.
func (r SLOResult) Satisfied() bool {
	return slo.Result{Outcome: r.Outcome, Ignored: r.Ignored}.Satisfied()
}

// Metric is the latest value of a metric for every version.
type Metric struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Units       string `json:"units,omitempty"`
	Type        string `json:"type,omitempty"`
	// Values holds one value per version; null where there is none.
	Values []*float64 `json:"values"`
	// Missing says, per version, why there is no value when a task said
	// why (a query that failed or returned nothing); null elsewhere. Absent
	// when no version has such a reason.
	Missing []*Missing `json:"missing,omitempty"`
}

// Missing is why a metric has no value: outcome noData (the query returned
// nothing) or error (it failed), and the reason.
type Missing struct {
	Outcome slo.Outcome `json:"outcome"`
	Reason  string      `json:"reason"`
}

// Latency is one latency histogram (the whole load, or one endpoint) for
// every version.
type Latency struct {
	Provider string `json:"provider"`
	Endpoint string `json:"endpoint,omitempty"`
	// Metric is the histogram metric, e.g. http/latency or http/service-time.
	Metric string `json:"metric"`
	// Kind is "latency" (in open loop measured from each request's intended
	// start) or "service-time" (from the actual send).
	Kind        string           `json:"kind"`
	Description string           `json:"description,omitempty"`
	Versions    []LatencyVersion `json:"versions"`
}

// LatencyVersion summarises one version's histogram, in milliseconds.
type LatencyVersion struct {
	Version     string       `json:"version"`
	Count       int64        `json:"count"`
	Mean        *float64     `json:"mean,omitempty"`
	StdDev      *float64     `json:"stddev,omitempty"`
	Min         *float64     `json:"min,omitempty"`
	Max         *float64     `json:"max,omitempty"`
	Percentiles []Percentile `json:"percentiles,omitempty"`

	// buckets are the histogram's bands, for the histogram charts.
	buckets []metrics.Bucket
	// curve is the latency from p50 to p99.99 at curvePercentiles, for the
	// percentile charts.
	curve []Percentile
}

// hasPercentiles reports whether the version's percentiles are known: it
// has an HDR histogram, not only the buckets the original wrote.
func (lv LatencyVersion) hasPercentiles() bool { return len(lv.Percentiles) > 0 }

// percentile is the latency at one of the reportedPercentiles.
func (lv LatencyVersion) percentile(p float64) (float64, bool) {
	for _, q := range lv.Percentiles {
		if q.Percentile == p {
			return q.Value, true
		}
	}
	return 0, false
}

// Percentile is a latency percentile in milliseconds.
type Percentile struct {
	Percentile float64 `json:"p"`
	Value      float64 `json:"value"`
}

// Load is what one load provider measured besides its metrics.
type Load struct {
	Provider        string  `json:"provider"`
	Endpoint        string  `json:"endpoint,omitempty"`
	Mode            string  `json:"mode"`
	Protocol        string  `json:"protocol,omitempty"`
	Requests        int64   `json:"requests"`
	Errors          int64   `json:"errors"`
	DurationSeconds float64 `json:"durationSeconds"`
	IntendedRate    float64 `json:"intendedRate,omitempty"`
	AchievedRate    float64 `json:"achievedRate"`
	Delayed         int64   `json:"delayed,omitempty"`
	Unsent          int64   `json:"unsent,omitempty"`
	// UnsentHeld counts unsent requests in the latency at their wait for
	// a connection the target held (lower bounds).
	UnsentHeld int64 `json:"unsentHeld,omitempty"`
	// Ignored counts requests in flight when the duration ended that
	// duration-stop ignore left out of every figure.
	Ignored int64 `json:"ignored,omitempty"`
	// TimedOut counts latency samples that are lower bounds: requests
	// recorded at their timeout because no answer came within it.
	TimedOut int64 `json:"timedOut,omitempty"`
	// Replayed counts requests sent again after their connection closed
	// or reset without an answer, though they may have reached the server.
	Replayed           int64   `json:"replayed,omitempty"`
	Connections        int     `json:"connections,omitempty"`
	InitialConnections int     `json:"initialConnections,omitempty"`
	MaxConnections     int     `json:"maxConnections,omitempty"`
	GeneratorLagP99Ms  float64 `json:"generatorLagP99Ms,omitempty"`
	// Warning says why a run was connection-bound (not an invalid run).
	Warning          string  `json:"warning,omitempty"`
	Saturated        bool    `json:"saturated"`
	SaturationReason string  `json:"saturationReason,omitempty"`
	CPUUtilization   float64 `json:"cpuUtilization,omitempty"`
	CPUWait          float64 `json:"cpuWait,omitempty"`
	// Aborted says why the run stopped early on an abort condition.
	Aborted string `json:"aborted,omitempty"`
	Codes   []Code `json:"codes"`
	// Name and Tags are the run's name and tags (ghz's name and tags).
	Name string            `json:"name,omitempty"`
	Tags map[string]string `json:"tags,omitempty"`
	// Pods are the load generator pods of a distributed run (pods.go).
	Pods []Pod `json:"pods,omitempty"`
}

// Code counts responses with one status code, or failures of one kind.
type Code struct {
	Code string `json:"code"`
	// Kind is "http-status", "grpc-code", "connection-error", or
	// "in-flight-at-abort" for the requests in flight when an abort
	// stopped the run (no answer, not an error; see inFlightAtAbort).
	Kind  string `json:"kind"`
	Count int64  `json:"count"`
}

// Loop is the summary of one loop of a multi-loop experiment or, for older
// loops of a long experiment, of several consecutive loops merged.
type Loop struct {
	// Loop is the (last) loop the entry covers.
	Loop int `json:"loop"`
	// Loops is how many consecutive loops, ending at Loop, the entry covers
	// (absent: 1).
	Loops     int       `json:"loops,omitempty"`
	StartTime time.Time `json:"startTime"`
	Failure   bool      `json:"failure,omitempty"`
	// Failures counts the failed loops of a merged entry.
	Failures int `json:"failures,omitempty"`
	// Outcomes holds each SLO's outcome per version in the (last) loop, in
	// the order of slos.
	Outcomes [][]slo.Outcome `json:"outcomes,omitempty"`
	// Passed counts, for a merged entry, the loops in which each SLO passed,
	// per version.
	Passed [][]int `json:"passed,omitempty"`
	// Values holds, per version, each scalar metric's value at the end of
	// the loop (the mean over the loops covered, for a merged entry).
	Values []map[string]float64 `json:"values,omitempty"`
}

// covers is how many loops the entry covers.
func (l Loop) covers() int { return max(l.Loops, 1) }

// first is the first loop the entry covers.
func (l Loop) first() int { return l.Loop - l.covers() + 1 }

// New builds the report of an experiment.
func New(exp *experiment.Experiment) *Report {
	r := &Report{SchemaVersion: SchemaVersion, Tasks: []Task{}, Versions: []string{}, SLOs: []SLO{}, Metrics: []Metric{}, Latency: []Latency{}, Load: []Load{}, Loops: []Loop{}}
	res := exp.Result
	if res == nil {
		res = &experiment.Result{}
	}
	r.Iter8Version = res.Iter8Version
	if !res.StartTime.IsZero() {
		t := res.StartTime
		r.StartTime = &t
	}
	r.Status = Status{
		Completed:      exp.Completed(),
		Failure:        res.Failure,
		FailureReason:  res.FailureReason,
		Aborted:        res.Aborted,
		Tasks:          len(exp.Spec),
		CompletedTasks: res.NumCompletedTasks,
		Loops:          res.NumLoops,
		Insights:       res.Insights != nil,
		SLOsSatisfied:  exp.SLOs(),
	}
	r.Tasks = tasks(exp)
	r.taskStates = len(res.Tasks) > 0
	in := res.Insights
	if in == nil {
		return r
	}
	n := max(in.NumVersions, 1)
	for i := range n {
		r.Versions = append(r.Versions, in.VersionLabel(i))
	}
	r.SLOs = slos(in, r.Versions)
	r.verdicts = len(in.SLOVerdicts) > 0
	r.Metrics = metricList(in, n)
	r.Latency = latencies(in, r.Versions)
	r.Load = loads(in)
	for _, l := range r.Load {
		if l.Saturated {
			r.Status.Warnings = append(r.Status.Warnings, fmt.Sprintf("%s: invalid run: %s", l.Provider, l.SaturationReason))
		}
	}
	keys := experiment.SLOKeys(in.SLOVerdicts)
	for _, h := range res.History {
		// each SLO's outcomes, even after the spec's SLOs changed
		outcomes, passed := h.SLOs, h.SLOsPassed
		if h.SLOKeys != nil && len(in.SLOVerdicts) > 0 {
			outcomes, passed, _ = h.Aligned(keys)
		}
		r.Loops = append(r.Loops, Loop{Loop: h.Loop, Loops: h.Loops, StartTime: h.StartTime, Failure: h.Failure, Failures: h.Failures,
			Outcomes: outcomes, Passed: passed, Values: h.Values})
	}
	return r
}

func tasks(exp *experiment.Experiment) []Task {
	out := make([]Task, len(exp.Spec))
	for i, s := range exp.Spec {
		t := Task{Index: i + 1, Name: s.Name(), State: "pending", Targets: targets(s)}
		if s.If != nil {
			t.If = *s.If
		}
		if exp.Result != nil && i < len(exp.Result.Tasks) {
			st := exp.Result.Tasks[i]
			t.State, t.Error, t.DurationSeconds, t.Warnings = string(st.State), st.Error, st.DurationSeconds, st.Warnings
		} else if exp.Result != nil && i < exp.Result.NumCompletedTasks {
			t.State = string(experiment.Completed) // written by the original, which kept no task states
		}
		out[i] = t
	}
	return out
}

// targets finds the URLs in a task's inputs: url, and url of each endpoint.
func targets(s experiment.TaskSpec) []string {
	var out []string
	if u, ok := s.With["url"].(string); ok && u != "" {
		out = append(out, u)
	}
	if eps, ok := s.With["endpoints"].(map[string]any); ok {
		for _, id := range slices.Sorted(maps.Keys(eps)) {
			if ep, ok := eps[id].(map[string]any); ok {
				if u, ok := ep["url"].(string); ok && u != "" {
					out = append(out, id+": "+u)
				}
			}
		}
	}
	return out
}

func slos(in *experiment.Insights, versions []string) []SLO {
	var out []SLO
	add := func(o slo.Objective, results []SLOResult) {
		meta, _ := in.MetaOf(o.Metric)
		out = append(out, SLO{
			Metric:      o.Metric,
			Description: meta.Description,
			Units:       meta.Units,
			Direction:   o.Direction,
			Limit:       o.Limit,
			OnNoData:    o.OnNoData,
			Condition:   o.Format(meta.Units),
			Results:     results,
		})
	}
	for _, v := range in.SLOVerdicts {
		results := make([]SLOResult, len(v.Versions))
		for i, vr := range v.Versions {
			results[i] = SLOResult{Version: versionLabel(versions, i), Value: vr.Value, Outcome: vr.Outcome, Reason: vr.Reason, Ignored: vr.Ignored, Window: vr.Loop != ""}
		}
		add(v.Objective, results)
	}
	if len(in.SLOVerdicts) == 0 && in.SLOs != nil {
		// written by the original: limits and booleans only
		from := func(list []experiment.SLO, sat [][]bool, dir slo.Direction) {
			for i, s := range list {
				o := slo.Objective{Metric: metrics.NormalizeName(s.Metric), Limit: s.Limit, Direction: dir}
				results := make([]SLOResult, len(versions))
				for j := range versions {
					r := SLOResult{Version: versions[j], Outcome: slo.NoData}
					if v, ok := in.Value(o.Metric, j); ok {
						r.Value = &v
					}
					if i < len(sat) && j < len(sat[i]) {
						r.Outcome = slo.Failed
						if sat[i][j] {
							r.Outcome = slo.Passed
						}
					}
					results[j] = r
				}
				add(o, results)
			}
		}
		sat := in.SLOsSatisfied
		if sat == nil {
			sat = &experiment.SLOResults{}
		}
		from(in.SLOs.Upper, sat.Upper, slo.Upper)
		from(in.SLOs.Lower, sat.Lower, slo.Lower)
	}
	if out == nil {
		return []SLO{}
	}
	return out
}

// oneUnnamedVersion reports whether the experiment has a single version
// without a name: reports then show no version columns.
func (r *Report) oneUnnamedVersion() bool {
	return len(r.Versions) == 1 && r.Versions[0] == versionLabel(nil, 0)
}

// versionLabel is version i's label, or "version i" (as
// experiment.Insights.VersionLabel names a version without a name).
func versionLabel(versions []string, i int) string {
	if i < len(versions) {
		return versions[i]
	}
	return fmt.Sprintf("version %d", i)
}

// metricList has every scalar metric, each Summary metric expanded, and every
// SLO metric (computed from histograms when not recorded), sorted by name, as
// the original's text report listed them.
func metricList(in *experiment.Insights, n int) []Metric {
	names := map[string]bool{}
	for name, m := range in.MetricsInfo {
		switch m.Type {
		case metrics.Counter, metrics.Gauge:
			names[name] = true
		case metrics.Summary:
			for _, agg := range []string{"count", "mean", "stddev", "min", "max"} {
				names[name+"/"+agg] = true
			}
		}
	}
	for _, v := range in.SLOVerdicts {
		names[v.Metric] = true
	}
	if in.SLOs != nil {
		for _, s := range append(append([]experiment.SLO{}, in.SLOs.Upper...), in.SLOs.Lower...) {
			names[metrics.NormalizeName(s.Metric)] = true
		}
	}
	out := make([]Metric, 0, len(names))
	for _, name := range slices.Sorted(maps.Keys(names)) {
		meta, _ := in.MetaOf(name)
		m := Metric{Name: name, Description: meta.Description, Units: meta.Units, Type: string(meta.Type), Values: make([]*float64, n)}
		for i := range n {
			if v, ok := in.Value(name, i); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
				m.Values[i] = &v
			} else if reason, failed := in.Missing(name, i); reason != "" || failed {
				if m.Missing == nil {
					m.Missing = make([]*Missing, n)
				}
				m.Missing[i] = &Missing{Outcome: slo.NoData, Reason: reason}
				if failed {
					m.Missing[i].Outcome = slo.Error
				}
			}
		}
		out = append(out, m)
	}
	return out
}

// reportedPercentiles are listed for every HDR histogram: in JSON and in
// the HTML latency tables.
func reportedPercentiles() []float64 { return []float64{50, 75, 90, 95, 99, 99.9, 99.99} }

// landmarkPercentiles, the median and the nines, are marked on the
// percentile curves.
func landmarkPercentiles() []float64 { return []float64{50, 90, 99, 99.9, 99.99} }

// briefPercentiles are the columns of the brief latency tables (text and
// Markdown): the landmarks up to p99.9.
func briefPercentiles() []float64 {
	l := landmarkPercentiles()
	return l[:len(l)-1]
}

// curvePercentiles are the points of a percentile curve, p50 to p99.99:
// every 5 up to 90, then ten steps in each of the nines.
func curvePercentiles() []float64 {
	var out []float64
	for p := 50.0; p < 90; p += 5 {
		out = append(out, p)
	}
	for _, base := range []float64{90, 99, 99.9} {
		step := (100 - base) / 10
		for k := 0; k < 10; k++ {
			out = append(out, math.Round((base+float64(k)*step)*1000)/1000)
		}
	}
	return append(out, 99.99)
}

func latencies(in *experiment.Insights, versions []string) []Latency {
	names := map[string]bool{}
	for _, hs := range in.Histograms {
		for name := range hs {
			names[name] = true
		}
	}
	for _, hs := range in.HistMetricValues {
		for name := range hs {
			names[name] = true
		}
	}
	sorted := slices.Sorted(maps.Keys(names))
	sort.SliceStable(sorted, func(i, j int) bool {
		pi, ki := splitMetric(sorted[i])
		pj, kj := splitMetric(sorted[j])
		if pi != pj {
			return pi < pj
		}
		return kindRank(ki) < kindRank(kj)
	})
	out := []Latency{}
	for _, name := range sorted {
		provider, kind := splitMetric(name)
		meta, _ := in.MetaOf(name)
		l := Latency{Provider: provider, Endpoint: endpointOf(provider, in), Metric: name, Kind: kind, Description: meta.Description}
		any := false
		for i, v := range versions {
			lv := latencyVersion(in, name, i, v)
			any = any || lv.Count > 0
			l.Versions = append(l.Versions, lv)
		}
		if any {
			out = append(out, l)
		}
	}
	return out
}

// latencyVersion summarises one version's histogram: from its HDR
// histogram, or from the buckets the original wrote.
func latencyVersion(in *experiment.Insights, name string, i int, version string) LatencyVersion {
	lv := LatencyVersion{Version: version}
	if h, ok := in.Histogram(name, i); ok && h.Count() > 0 {
		lv.buckets = h.Buckets()
		lv.Count = h.Count()
		lv.Mean, lv.StdDev, lv.Min, lv.Max = ptr(h.MeanMs()), ptr(h.StdDevMs()), ptr(h.MinMs()), ptr(h.MaxMs())
		lv.Percentiles = percentilesOf(h, reportedPercentiles())
		lv.curve = percentilesOf(h, curvePercentiles())
	} else if i < len(in.HistMetricValues) && len(in.HistMetricValues[i][name]) > 0 {
		// written by the original: buckets only
		lv.buckets = in.HistMetricValues[i][name]
		for _, b := range lv.buckets {
			lv.Count += b.Count
		}
	}
	return lv
}

func percentilesOf(h *metrics.HDR, ps []float64) []Percentile {
	out := make([]Percentile, len(ps))
	for i, p := range ps {
		out[i] = Percentile{Percentile: p, Value: h.PercentileMs(p)}
	}
	return out
}

func ptr(v float64) *float64 { return &v }

// splitMetric splits "http-list/service-time" into its provider and metric.
func splitMetric(name string) (provider, metric string) {
	i := strings.LastIndex(name, "/")
	if i < 0 {
		return "", name
	}
	return name[:i], name[i+1:]
}

func kindRank(kind string) int {
	switch kind {
	case "latency":
		return 0
	case "service-time":
		return 1
	}
	return 2
}

// endpointOf returns "list" for provider http-list, and for canary-list
// when a load task wrote its metrics as canary (its provider input).
func endpointOf(provider string, in *experiment.Insights) string {
	base := ""
	for _, b := range []string{"http", "grpc"} {
		if strings.HasPrefix(provider, b+"-") {
			base = b
		}
	}
	for b := range in.Load {
		if strings.HasPrefix(provider, b+"-") && len(b) > len(base) {
			base = b
		}
	}
	if base == "" {
		return ""
	}
	return strings.TrimPrefix(provider, base+"-")
}

func loads(in *experiment.Insights) []Load {
	out := []Load{}
	for _, p := range slices.Sorted(maps.Keys(in.Load)) {
		ls := in.Load[p]
		if ls == nil {
			continue
		}
		l := Load{
			Provider: p, Endpoint: endpointOf(p, in), Mode: ls.Mode, Protocol: ls.Protocol,
			Requests: ls.Requests, Errors: ls.Errors, DurationSeconds: ls.DurationSeconds,
			IntendedRate: ls.IntendedRate, AchievedRate: ls.AchievedRate, Delayed: ls.Delayed, Unsent: ls.Unsent, UnsentHeld: ls.UnsentHeld, Ignored: ls.Ignored,
			Saturated: ls.Saturated, SaturationReason: ls.SaturationReason, CPUUtilization: ls.CPUUtilization, CPUWait: ls.CPUWait, Aborted: ls.Aborted,
			TimedOut: ls.TimedOut, Replayed: ls.Replayed, Connections: ls.Connections, InitialConnections: ls.InitialConnections, MaxConnections: ls.MaxConnections,
			GeneratorLagP99Ms: ls.GeneratorLagP99Ms, Warning: ls.Warning,
			Codes: codes(p, ls.Codes), Name: ls.Name, Tags: ls.Tags, Pods: pods(ls.Pods),
		}
		out = append(out, l)
	}
	return out
}

// runLabel is a load's name and tags (ghz's): name (k=v, ...).
func runLabel(l Load) string {
	var tags []string
	for _, k := range slices.Sorted(maps.Keys(l.Tags)) {
		tags = append(tags, k+"="+l.Tags[k])
	}
	s := l.Name
	if len(tags) > 0 {
		s = strings.TrimSpace(s + " (" + strings.Join(tags, ", ") + ")")
	}
	return s
}

// grpcCodes are the canonical gRPC status code names, by number.
var grpcCodes = []string{"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
	"AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange",
	"Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"}

// inFlightAtAbort is the code, and kind, of the requests that were in
// flight when an abort condition stopped a load run: they are in the
// latency at the time they had taken (lower bounds) and are not errors.
const inFlightAtAbort = "in-flight-at-abort"

// codes lists status codes (ascending) before error kinds (by name).
func codes(provider string, m map[string]int64) []Code {
	out := make([]Code, 0, len(m))
	grpc := provider == "grpc" || strings.HasPrefix(provider, "grpc-")
	for code, n := range m {
		c := Code{Code: code, Count: n, Kind: "connection-error"}
		_, err := strconv.Atoi(code)
		switch {
		case err == nil && grpc:
			c.Kind = "grpc-code"
		case err == nil:
			c.Kind = "http-status"
		case slices.Contains(grpcCodes, code):
			c.Kind = "grpc-code"
		case code == inFlightAtAbort:
			c.Kind = inFlightAtAbort
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Kind == "connection-error") != (b.Kind == "connection-error") {
			return b.Kind == "connection-error"
		}
		na, ea := strconv.Atoi(a.Code)
		nb, eb := strconv.Atoi(b.Code)
		if ea == nil && eb == nil {
			return na < nb
		}
		return a.Code < b.Code
	})
	return out
}

// latencyOf returns a provider's histograms (latency, then service time).
func (r *Report) latencyOf(provider string) []Latency {
	var out []Latency
	for _, l := range r.Latency {
		if l.Provider == provider {
			out = append(out, l)
		}
	}
	return out
}

// providers lists the providers with latency histograms, in order.
func (r *Report) providers() []string {
	var out []string
	for _, l := range r.Latency {
		if len(out) == 0 || out[len(out)-1] != l.Provider {
			out = append(out, l.Provider)
		}
	}
	return out
}

// trendOutcome is the outcome of slos[sloIndex] for a version at the end of
// a loop, or "" when the loop did not judge it.
func (r *Report) trendOutcome(loop Loop, sloIndex, version int) slo.Outcome {
	if sloIndex < len(loop.Outcomes) && version < len(loop.Outcomes[sloIndex]) {
		return loop.Outcomes[sloIndex][version]
	}
	return ""
}

// passedLoops counts the loops in which slos[sloIndex] passed for a version,
// and the loops the history covers.
func (r *Report) passedLoops(sloIndex, version int) (passed, total int) {
	for _, l := range r.Loops {
		total += l.covers()
		switch {
		case sloIndex < len(l.Passed) && version < len(l.Passed[sloIndex]):
			passed += l.Passed[sloIndex][version]
		case r.trendOutcome(l, sloIndex, version) == slo.Passed:
			passed += l.covers()
		}
	}
	return passed, total
}

// notJudged reports whether an SLO is not judged for some version.
func (r *Report) notJudged() bool {
	for _, s := range r.SLOs {
		for _, res := range s.Results {
			if res.Outcome == slo.NotJudged {
				return true
			}
		}
	}
	return false
}

// loopMixed reports whether a merged entry of the history passed an SLO in
// some of its loops only (see entryLabel).
func (r *Report) loopMixed() bool {
	for _, l := range r.Loops {
		for i := range r.SLOs {
			for v := range r.SLOs[i].Results {
				if r.entryLabel(l, i, v).class == "mixed" {
					return true
				}
			}
		}
	}
	return false
}

// loopNotJudged reports whether a loop of the history did not judge an SLO.
func (r *Report) loopNotJudged() bool {
	for _, l := range r.Loops {
		for _, row := range l.Outcomes {
			for _, o := range row {
				if o == slo.NotJudged {
					return true
				}
			}
		}
	}
	return false
}

// verdict is the report's headline and how it reads: "ok", "bad", "warn"
// or "pending".
func (r *Report) verdict() (headline, class string) {
	s := r.Status
	switch {
	case s.Failure:
		return "Experiment failed", "bad"
	case !s.Insights:
		if s.Loops == 0 {
			return "Experiment has not run yet", "pending"
		}
		return "No results yet", "pending"
	case len(r.SLOs) > 0 && !s.SLOsSatisfied && !s.Completed && r.notJudged():
		return "SLOs not judged yet; experiment still running", "pending"
	case len(r.SLOs) > 0 && !s.SLOsSatisfied:
		return "SLOs not satisfied", "bad"
	case len(s.Warnings) > 0:
		return "Invalid run: the load generator fell short", "warn"
	case len(r.SLOs) > 0 && !s.Completed:
		return "SLOs satisfied so far; experiment still running", "warn"
	case len(r.SLOs) > 0:
		return "All SLOs satisfied", "ok"
	case s.Completed:
		return "Experiment completed", "ok"
	}
	return "Experiment running", "pending"
}

// latencyRow is one line of the brief latency tables (text and Markdown):
// one version's HDR histogram.
type latencyRow struct {
	// Name is the metric, with " [version]" when there are several.
	Name  string
	Count int64
	// Values are at briefPercentiles.
	Values []float64
	Max    float64
}

// latencyRows are the brief latency tables' rows, under latencyColumns.
func (r *Report) latencyRows() []latencyRow {
	var out []latencyRow
	for _, l := range r.Latency {
		for _, v := range l.Versions {
			if !v.hasPercentiles() {
				continue
			}
			row := latencyRow{Name: l.Metric, Count: v.Count, Max: *v.Max}
			if len(r.Versions) > 1 {
				row.Name += " [" + v.Version + "]"
			}
			for _, p := range briefPercentiles() {
				val, _ := v.percentile(p)
				row.Values = append(row.Values, val)
			}
			out = append(out, row)
		}
	}
	return out
}
