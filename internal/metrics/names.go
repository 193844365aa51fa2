// Package metrics defines iter8's metric model: fully qualified metric names,
// metric types and units, and the HDR latency histograms that built-in load
// metrics are computed from.
package metrics

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Type is the kind of a metric, spelled as the original Iter8 stored it in
// metricsInfo.type.
type Type string

// Metric types.
const (
	Counter   Type = "Counter"
	Gauge     Type = "Gauge"
	Histogram Type = "Histogram"
	Sample    Type = "Sample"
	Summary   Type = "Summary"
)

// Meta describes a metric.
type Meta struct {
	Description string `json:"description"`
	Units       string `json:"units,omitempty"`
	Type        Type   `json:"type"`
}

// Msec is the unit of every latency metric.
const Msec = "msec"

// ErrName is returned (wrapped) for a malformed metric name.
var ErrName = errors.New("metrics: invalid metric name")

// Name is a parsed metric name: provider/metric or provider/metric/aggregation.
type Name struct {
	Provider    string
	Metric      string
	Aggregation string
}

// String returns the fully qualified name.
func (n Name) String() string {
	if n.Aggregation == "" {
		return n.Provider + "/" + n.Metric
	}
	return n.Provider + "/" + n.Metric + "/" + n.Aggregation
}

var segment = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)

// ValidSegment reports whether s can be one part of a metric name (a
// provider, a metric, an endpoint): letters, digits, '.', '_' and '-'.
func ValidSegment(s string) bool { return segment.MatchString(s) }

// ParseName parses and normalises a metric name of the form a/b or a/b/c.
func ParseName(s string) (Name, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return Name{}, fmt.Errorf("%w: %q: metric names must be of the form provider/metric or provider/metric/aggregation", ErrName, s)
	}
	for _, p := range parts {
		if !ValidSegment(p) {
			return Name{}, fmt.Errorf("%w: %q: each part must be non-empty and use only letters, digits, '.', '_' or '-'", ErrName, s)
		}
	}
	n := Name{Provider: parts[0], Metric: parts[1]}
	if len(parts) == 3 {
		n.Aggregation = parts[2]
		if !validAggregation(n.Aggregation) {
			return Name{}, fmt.Errorf("%w: %q: aggregation %q must be count, mean, stddev, min, max or p<percentile>", ErrName, s, n.Aggregation)
		}
	}
	return normalize(n), nil
}

// NormalizeName returns the canonical spelling of a metric name, so that
// http/latency-p50.0 and http/latency-p50 name the same metric. Names that do
// not parse are returned unchanged.
func NormalizeName(s string) string {
	n, err := ParseName(s)
	if err != nil {
		return s
	}
	return n.String()
}

func validAggregation(a string) bool {
	switch a {
	case "count", "mean", "stddev", "min", "max":
		return true
	}
	_, ok := percentileOf(a)
	return ok
}

// percentileOf parses "p97.5" into 97.5.
func percentileOf(s string) (float64, bool) {
	if len(s) < 2 || s[0] != 'p' {
		return 0, false
	}
	v, err := strconv.ParseFloat(s[1:], 64)
	if err != nil || v <= 0 || v > 100 {
		return 0, false
	}
	return v, true
}

// histPercentile matches the percentile names of the load histograms, with
// any number: latency-p0, service-time-p101, latency/p250.
var histPercentile = regexp.MustCompile(`^(latency|service-time)[-/]p([0-9]+(?:\.[0-9]+)?)$`)

// PercentileOutOfRange reports whether the metric (the part after the
// provider) names a percentile of a load histogram outside (0, 100], which
// no histogram has: latency-p0, latency-p101.
func (n Name) PercentileOutOfRange() bool {
	m := n.Metric
	if n.Aggregation != "" {
		m += "/" + n.Aggregation
	}
	g := histPercentile.FindStringSubmatch(m)
	if g == nil {
		return false
	}
	p, err := strconv.ParseFloat(g[2], 64)
	return err == nil && (p <= 0 || p > 100)
}

// FormatPercentile spells a percentile the way metric names use it: 50, 97.5, 99.9.
func FormatPercentile(p float64) string {
	return strconv.FormatFloat(p, 'f', -1, 64)
}

var latencyPercentile = regexp.MustCompile(`^(.*-)p([0-9]+(?:\.[0-9]+)?)$`)

// normalize rewrites percentile spellings for the built-in load providers
// (http, http-<endpoint>, grpc, grpc-<endpoint>); the original did this only
// for http and grpc, which left http-<endpoint> names unmatched.
func normalize(n Name) Name {
	if !isLoadProvider(n.Provider) {
		return n
	}
	if n.Aggregation != "" {
		if p, ok := percentileOf(n.Aggregation); ok {
			n.Aggregation = "p" + FormatPercentile(p)
		}
		return n
	}
	if m := latencyPercentile.FindStringSubmatch(n.Metric); m != nil {
		if p, err := strconv.ParseFloat(m[2], 64); err == nil {
			n.Metric = m[1] + "p" + FormatPercentile(p)
		}
	}
	return n
}

func isLoadProvider(p string) bool {
	for _, base := range []string{"http", "grpc"} {
		if p == base || strings.HasPrefix(p, base+"-") {
			return true
		}
	}
	return false
}

// Percentile reports whether a metric (the part after the provider) asks for a
// latency percentile of a histogram, and returns the histogram's metric name
// and the percentile: "latency-p97.5" gives ("latency", 97.5); the aggregation
// form "latency/p97.5" is recognised through Name.Aggregation.
func (n Name) Percentile() (hist string, p float64, ok bool) {
	if n.Aggregation != "" {
		p, ok = percentileOf(n.Aggregation)
		return n.Metric, p, ok
	}
	m := latencyPercentile.FindStringSubmatch(n.Metric)
	if m == nil {
		return "", 0, false
	}
	p, err := strconv.ParseFloat(m[2], 64)
	if err != nil || p <= 0 || p > 100 {
		return "", 0, false
	}
	return strings.TrimSuffix(m[1], "-"), p, true
}
