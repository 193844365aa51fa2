package experiment

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/slo"
)

// NewResult returns the result of an experiment that has not run yet.
func NewResult(now time.Time, iter8Version string) *Result {
	return &Result{StartTime: now, Iter8Version: iter8Version}
}

// InitInsights makes sure the result has insights for n versions and returns
// them. Tasks that record values for a different number of versions than an
// earlier task are an error.
func (r *Result) InitInsights(n int, names []VersionInfo) (*Insights, error) {
	if n < 1 {
		n = 1
	}
	in := r.Insights
	if in == nil {
		in = &Insights{}
		r.Insights = in
	}
	switch {
	case in.NumVersions == 0, n > in.NumVersions && !in.measured():
		// (an earlier loop's assess, with nothing measured yet, judged
		// one version: a task skipped by if: in that loop may measure more)
		in.NumVersions = n
		// The not-judged verdicts of the loop's start were made before
		// the number of versions was known: one per version now.
		for i := range in.SLOVerdicts {
			v := &in.SLOVerdicts[i]
			for len(v.Versions) > 0 && len(v.Versions) < n {
				v.Versions = append(v.Versions, slo.Result{Outcome: v.Versions[0].Outcome, Reason: v.Versions[0].Reason})
			}
		}
		in.syncSLOs()
	case in.NumVersions != n:
		return nil, fmt.Errorf("this task measures %d version(s) but the experiment already has %d", n, in.NumVersions)
	}
	if len(names) > 0 {
		in.VersionNames = names
	}
	in.grow()
	return in, nil
}

// measured reports whether a task recorded anything in this loop.
func (in *Insights) measured() bool {
	for _, vs := range [][]map[string][]float64{in.NonHistMetricValues, in.SummaryMetricValues} {
		for _, m := range vs {
			if len(m) > 0 {
				return true
			}
		}
	}
	for _, m := range in.HistMetricValues {
		if len(m) > 0 {
			return true
		}
	}
	for _, m := range in.Histograms {
		if len(m) > 0 {
			return true
		}
	}
	for _, m := range in.MissingValues {
		if len(m) > 0 {
			return true
		}
	}
	return len(in.Load) > 0
}

// grow sizes the per-version slices to NumVersions.
func (in *Insights) grow() {
	for len(in.NonHistMetricValues) < in.NumVersions {
		in.NonHistMetricValues = append(in.NonHistMetricValues, map[string][]float64{})
	}
	for len(in.HistMetricValues) < in.NumVersions {
		in.HistMetricValues = append(in.HistMetricValues, map[string][]metrics.Bucket{})
	}
	for len(in.Histograms) < in.NumVersions {
		in.Histograms = append(in.Histograms, map[string]string{})
	}
	for i := range in.NumVersions {
		if in.NonHistMetricValues[i] == nil {
			in.NonHistMetricValues[i] = map[string][]float64{}
		}
		if in.HistMetricValues[i] == nil {
			in.HistMetricValues[i] = map[string][]metrics.Bucket{}
		}
		if in.Histograms[i] == nil {
			in.Histograms[i] = map[string]string{}
		}
	}
}

func (in *Insights) register(name string, meta metrics.Meta, version int) error {
	if version < 0 || version >= in.NumVersions {
		return fmt.Errorf("metric %s: version %d is out of range: the experiment has %d version(s)", name, version, in.NumVersions)
	}
	if in.MetricsInfo == nil {
		in.MetricsInfo = map[string]metrics.Meta{}
	}
	if old, ok := in.MetricsInfo[name]; ok {
		// Descriptions may differ (templated per version); type and units may not.
		if old.Type != meta.Type || old.Units != meta.Units {
			return fmt.Errorf("metric %s was recorded as a %s in %q and now as a %s in %q", name, old.Type, old.Units, meta.Type, meta.Units)
		}
		return nil
	}
	in.MetricsInfo[name] = meta
	return nil
}

// SetValue records the latest value of a scalar metric for a version.
func (in *Insights) SetValue(name string, meta metrics.Meta, version int, v float64) error {
	name = metrics.NormalizeName(name)
	if err := in.register(name, meta, version); err != nil {
		return err
	}
	in.NonHistMetricValues[version][name] = []float64{v}
	if version < len(in.MissingValues) {
		delete(in.MissingValues[version], name)
	}
	return nil
}

// SetMissing records that a scalar metric has no value for a version, and
// why: outcome slo.Error when its query failed, slo.NoData when the query
// returned nothing. An older value of the metric is dropped, so SLOs are
// never judged on a stale value.
func (in *Insights) SetMissing(name string, meta metrics.Meta, version int, outcome slo.Outcome, reason string) error {
	name = metrics.NormalizeName(name)
	if outcome != slo.Error && outcome != slo.NoData {
		return fmt.Errorf("metric %s: a missing value has outcome %s or %s, not %q", name, slo.Error, slo.NoData, outcome)
	}
	if err := in.register(name, meta, version); err != nil {
		return err
	}
	delete(in.NonHistMetricValues[version], name)
	for len(in.MissingValues) < in.NumVersions {
		in.MissingValues = append(in.MissingValues, nil)
	}
	if in.MissingValues[version] == nil {
		in.MissingValues[version] = map[string]MissingValue{}
	}
	in.MissingValues[version][name] = MissingValue{Outcome: outcome, Reason: reason}
	return nil
}

// Missing says why a metric has no value for a version (slo.Source): the
// recorded reason, and whether its query failed.
func (in *Insights) Missing(name string, version int) (string, bool) {
	if in == nil {
		return "", false
	}
	if version >= 0 && version < len(in.MissingValues) {
		if m, ok := in.MissingValues[version][metrics.NormalizeName(name)]; ok {
			return m.Reason, m.Outcome == slo.Error
		}
	}
	if why := in.misspelt(name); why != "" {
		return why, true // an error: onNoData: ignore must not hide a typo
	}
	return "", false
}

// misspelt says why name looks like a misspelling of a metric that its
// provider recorded (r/eror-rate beside r/error-rate), or returns "".
func (in *Insights) misspelt(name string) string {
	if _, ok := in.MetaOf(name); ok {
		return ""
	}
	n, err := metrics.ParseName(name)
	if err != nil {
		return ""
	}
	metric := strings.TrimPrefix(metrics.NormalizeName(name), n.Provider+"/")
	var names, providers []string
	for k := range in.MetricsInfo {
		if p, m, ok := strings.Cut(k, "/"); ok {
			if p == n.Provider {
				names = append(names, m)
			}
			if m == metric {
				providers = append(providers, p)
			}
		}
	}
	sort.Strings(names)
	if c := inputs.Closest(metric, names); c != "" {
		return fmt.Sprintf("provider %s records no metric %s: did you mean %s/%s?", n.Provider, metric, n.Provider, c)
	}
	if len(names) == 0 {
		// no metric of this provider at all, and the metric under a
		// provider a letter or two apart: a misspelt provider
		// (htp/latency-p99, cn/latency beside cm/latency)
		sort.Strings(providers)
		if c := inputs.Closest(n.Provider, providers); c != "" {
			return fmt.Sprintf("no task records metrics of provider %s: did you mean %s/%s?", n.Provider, c, metric)
		}
	}
	return ""
}

// SetHistogram records a latency histogram for a version: its buckets in the
// original shape and its exact HDR encoding.
func (in *Insights) SetHistogram(name string, meta metrics.Meta, version int, h *metrics.HDR) error {
	if err := in.register(name, meta, version); err != nil {
		return err
	}
	enc, err := h.Encode()
	if err != nil {
		return err
	}
	in.HistMetricValues[version][name] = h.Buckets()
	in.Histograms[version][name] = enc
	return nil
}

// Histogram returns the HDR histogram recorded for a metric and version.
func (in *Insights) Histogram(name string, version int) (*metrics.HDR, bool) {
	if version < 0 || version >= len(in.Histograms) {
		return nil, false
	}
	enc, ok := in.Histograms[version][name]
	if !ok {
		return nil, false
	}
	h, err := metrics.DecodeHDR(enc)
	if err != nil {
		return nil, false
	}
	return h, true
}

// Value returns the latest value of a metric for a version. Percentiles and
// aggregations of a latency histogram (http/latency-p97.5,
// grpc/latency/mean) are computed from the recorded HDR histogram when they
// were not recorded as values, so any percentile can be used in an SLO.
func (in *Insights) Value(name string, version int) (float64, bool) {
	if in == nil || version < 0 {
		return 0, false
	}
	name = metrics.NormalizeName(name)
	if version < len(in.NonHistMetricValues) {
		if vs := in.NonHistMetricValues[version][name]; len(vs) > 0 {
			return vs[len(vs)-1], true
		}
	}
	n, err := metrics.ParseName(name)
	if err != nil {
		return 0, false
	}
	if hist, p, ok := n.Percentile(); ok {
		h, ok := in.Histogram(n.Provider+"/"+hist, version)
		if !ok || h.Count() == 0 {
			return 0, false
		}
		return h.PercentileMs(p), true
	}
	if n.Aggregation == "" {
		return 0, false
	}
	if v, ok := in.summaryValue(n, version); ok {
		return v, true
	}
	h, ok := in.Histogram(n.Provider+"/"+n.Metric, version)
	if !ok {
		return 0, false
	}
	if n.Aggregation == "count" {
		return float64(h.Count()), true
	}
	if h.Count() == 0 {
		return 0, false
	}
	switch n.Aggregation {
	case "mean":
		return h.MeanMs(), true
	case "stddev":
		return h.StdDevMs(), true
	case "min":
		return h.MinMs(), true
	case "max":
		return h.MaxMs(), true
	}
	return 0, false
}

// summaryValue aggregates a Summary metric stored by the original as
// [count, sum, min, max, sum of squares]; stddev is the sample deviation.
func (in *Insights) summaryValue(n metrics.Name, version int) (float64, bool) {
	if version >= len(in.SummaryMetricValues) {
		return 0, false
	}
	s := in.SummaryMetricValues[version][n.Provider+"/"+n.Metric]
	if len(s) != 5 {
		return 0, false
	}
	count, sum, lo, hi, sq := s[0], s[1], s[2], s[3], s[4]
	switch n.Aggregation {
	case "count":
		return count, true
	case "mean":
		return sum / count, count > 0
	case "min":
		return lo, count > 0
	case "max":
		return hi, count > 0
	case "stddev":
		if count < 2 {
			return 0, false
		}
		return math.Sqrt((sq - sum*sum/count) / (count - 1)), true
	}
	return 0, false
}

// Invalid says why values of a metric cannot be trusted: the load run that
// produced them was flagged (for example, the generator fell short of the
// intended rate). It returns "" for trustworthy values.
func (in *Insights) Invalid(name string, _ int) string {
	if in == nil {
		return ""
	}
	n, err := metrics.ParseName(name)
	if err != nil {
		return ""
	}
	if ls, ok := in.Load[n.Provider]; ok && ls.Saturated {
		return "invalid run: " + ls.SaturationReason
	}
	return ""
}

// MetaOf returns the description of a metric, including metrics derived from
// a histogram.
func (in *Insights) MetaOf(name string) (metrics.Meta, bool) {
	if in == nil {
		return metrics.Meta{}, false
	}
	name = metrics.NormalizeName(name)
	if m, ok := in.MetricsInfo[name]; ok {
		return m, true
	}
	n, err := metrics.ParseName(name)
	if err != nil {
		return metrics.Meta{}, false
	}
	if hist, p, ok := n.Percentile(); ok {
		if hm, ok := in.MetricsInfo[n.Provider+"/"+hist]; ok {
			return metrics.Meta{Description: metrics.FormatPercentile(p) + "-th percentile of " + hist, Units: hm.Units, Type: metrics.Gauge}, true
		}
	}
	if n.Aggregation != "" {
		if hm, ok := in.MetricsInfo[n.Provider+"/"+n.Metric]; ok {
			if n.Aggregation == "count" {
				return metrics.Meta{Description: "number of observations of " + n.Metric, Type: metrics.Counter}, true
			}
			return metrics.Meta{Description: n.Aggregation + " of " + n.Metric, Units: hm.Units, Type: metrics.Gauge}, true
		}
	}
	return metrics.Meta{}, false
}

var _ slo.Source = (*Insights)(nil)
