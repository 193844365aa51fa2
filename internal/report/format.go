package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/slo"
)

// The formatting every format shares: numbers, outcome labels, status
// codes and text from the experiment. A format that needs a value reads it
// from the model; it formats it with these.

// num formats a value for people: integers as integers, otherwise two
// decimals, or three significant digits for small values.
func num(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'f', -1, 64)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 1000:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case math.Abs(v) >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// textValue formats a value as the original's text report did (two
// decimals), with three significant digits for small values that two
// decimals would show as 0.
func textValue(v float64) string {
	if v != 0 && math.Abs(v) < 0.01 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return fmt.Sprintf("%0.2f", v)
}

// percentileName is a percentile as a column or tick label: "p99.9".
func percentileName(p float64) string { return "p" + metrics.FormatPercentile(p) }

// ANSI styles of text output; the outcome labels carry them too.
const (
	plain  = ""
	bold   = "1"
	red    = "31"
	green  = "32"
	yellow = "33"
)

// outcomeLabel is how the formats show an SLO outcome.
type outcomeLabel struct {
	name  string // in words: "no data"
	class string // the stylesheet class (HTML, charts): "nodata"
	mark  string // the one-character mark of the text loops table: "?"
	style string // the ANSI colour of text output
	icon  string // the Markdown emoji
}

// labelOf is the one place that names the outcomes.
func labelOf(o slo.Outcome) outcomeLabel {
	// name, CSS class, text mark, ANSI colour, Markdown icon
	labels := map[slo.Outcome]outcomeLabel{
		slo.Passed:    {"passed", "passed", "+", green, "✅"},
		slo.Failed:    {"failed", "failed", "x", red, "❌"},
		slo.NoData:    {"no data", "nodata", "?", yellow, "⚠️"},
		slo.Invalid:   {"invalid run", "invalid", "!", yellow, "⚠️"},
		slo.Error:     {"error", "error", "E", red, "❌"},
		slo.NotJudged: {"not judged", "nodata", ".", yellow, "⚠️"},
		"":            {"not judged", "unknown", " ", "", ""},
	}
	if l, ok := labels[o]; ok {
		return l
	}
	return outcomeLabel{name: string(o), class: "unknown", mark: " "}
}

// ignoredLabel is a no-data outcome that its SLO ignores (onNoData: ignore).
func ignoredLabel() outcomeLabel {
	return outcomeLabel{name: "no data (ignored)", class: "ignored", mark: "-", icon: "➖"}
}

// label shows a result, ignored or not.
func (r SLOResult) label() outcomeLabel {
	if r.Ignored {
		return ignoredLabel()
	}
	return labelOf(r.Outcome)
}

// mixedLabel is a merged history entry (older loops) in which an SLO passed
// in some of its loops only, though in the last of them.
func mixedLabel() outcomeLabel {
	return outcomeLabel{name: "passed in some of the merged loops", class: "mixed", mark: "~", style: yellow, icon: "➖"}
}

// entryLabel shows the outcome of slos[i] for version v in a history entry:
// a merged entry that passed in its last loop but not in all of them is
// mixed, not passed.
func (r *Report) entryLabel(l Loop, i, v int) outcomeLabel {
	o := r.trendOutcome(l, i, v)
	if o == slo.Passed && l.covers() > 1 && i < len(l.Passed) && v < len(l.Passed[i]) && l.Passed[i][v] < l.covers() {
		return mixedLabel()
	}
	return r.SLOs[i].loopLabel(o)
}

// loopLabel shows the outcome of an SLO in one loop of the history.
func (s SLO) loopLabel(o slo.Outcome) outcomeLabel {
	if o == slo.NoData && s.OnNoData == slo.IgnoreNoData {
		return ignoredLabel()
	}
	return labelOf(o)
}

// name is the code as shown: a gRPC code number with its name
// ("14 Unavailable"), anything else as it is.
func (c Code) name() string {
	if c.Kind == "grpc-code" {
		if n, err := strconv.Atoi(c.Code); err == nil && n >= 0 && n < len(grpcCodes) {
			return c.Code + " " + grpcCodes[n]
		}
	}
	return c.Code
}

// codeSummary lists a load's responses by code: "200 × 98, 503 × 2".
func codeSummary(l Load) string {
	if len(l.Codes) == 0 {
		return "none"
	}
	parts := make([]string, len(l.Codes))
	for i, c := range l.Codes {
		parts[i] = fmt.Sprintf("%s × %d", c.name(), c.Count)
	}
	return strings.Join(parts, ", ")
}

// healthNote is one thing every format says about a load run's generator
// health beside its numbers.
type healthNote struct {
	Kind string // warning (connection-bound), timeouts, replayed, in-flight (at an abort), unsent, ignored
	Text string
}

// healthNotes says why a run was connection-bound (a warning, not an
// invalid run: the target's slowness is in the latency), how many of its
// latencies are lower bounds (requests recorded at their timeout), and how
// many requests were left unsent when no other reason says so. Why a run is
// invalid is its SaturationReason.
func healthNotes(l Load) []healthNote {
	var out []healthNote
	if l.Warning != "" {
		out = append(out, healthNote{"warning", l.Warning})
	}
	if l.TimedOut > 0 {
		out = append(out, healthNote{"timeouts", fmt.Sprintf("%d requests timed out; they are in the latency at their timeout (lower bounds)", l.TimedOut)})
	}
	if l.Replayed > 0 {
		out = append(out, healthNote{"replayed", fmt.Sprintf("%d requests were sent again after their connection closed or reset without an answer, though they may have reached the server (as net/http does for idempotent requests); each is counted once, by its second outcome", l.Replayed)})
	}
	for _, c := range l.Codes {
		if c.Kind == inFlightAtAbort {
			out = append(out, healthNote{"in-flight", fmt.Sprintf("%d requests were in flight when the run was aborted; they are in the latency at the time they had taken (lower bounds), not counted as errors", c.Count)})
		}
	}
	if l.Unsent > 0 && !l.Saturated && l.Warning == "" { // a flagged run's reason says so
		note := fmt.Sprintf("%d requests due within the duration could not start before it ended", l.Unsent)
		if l.Aborted != "" {
			note = fmt.Sprintf("%d requests due before the abort could not start", l.Unsent)
		}
		if l.UnsentHeld > 0 {
			note += fmt.Sprintf("; %d of them waited for a connection the target held, and are in the latency at that wait (lower bounds)", l.UnsentHeld)
		}
		out = append(out, healthNote{"unsent", note})
	}
	if l.Ignored > 0 {
		out = append(out, healthNote{"ignored", fmt.Sprintf("%d requests in flight when the duration ended were left out of every figure (duration-stop: ignore): requests the target held until then are not in the errors or the latency", l.Ignored)})
	}
	return out
}

// connectionsOf shows the connections a run used: "8 (cap 88)" when it
// could grow them, "4 → 8 (cap 88)" when it grew them from the 4 opened
// before the clock started, "–" when the result does not say.
func connectionsOf(l Load) string {
	switch {
	case l.Connections == 0:
		return "–"
	case l.MaxConnections > 0 && l.InitialConnections > 0 && l.Connections > l.InitialConnections:
		return fmt.Sprintf("%d → %d (cap %d)", l.InitialConnections, l.Connections, l.MaxConnections)
	case l.MaxConnections > 0:
		return fmt.Sprintf("%d (cap %d)", l.Connections, l.MaxConnections)
	}
	return strconv.Itoa(l.Connections)
}

// latencyColumns are the headers of the brief latency tables (text,
// Markdown), whose rows are Report.latencyRows.
func latencyColumns() []string {
	out := []string{"Histogram", "count"}
	for _, p := range briefPercentiles() {
		out = append(out, percentileName(p))
	}
	return append(out, "max")
}

// clean replaces control characters in text from the experiment, so that a
// name or message cannot move the cursor, retitle or clear the terminal.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return '\uFFFD'
		}
		return r
	}, s)
}
