package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"iter8.tools/iter8/internal/slo"
)

func writeMarkdown(w io.Writer, r *Report, _ Options) error {
	var b strings.Builder
	mdHeadline(&b, r)
	if r.Status.Insights {
		if len(r.SLOs) > 0 {
			mdSLOs(&b, r)
		}
		if len(r.Load) > 0 {
			mdLoad(&b, r)
		}
		if rows := r.latencyRows(); len(rows) > 0 {
			mdLatency(&b, rows)
		}
		mdMetrics(&b, r)
	} else {
		b.WriteString("\nNo results yet: no task has recorded metrics. Retry this report later.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdVerdictIcon shows the verdict's class.
func mdVerdictIcon(class string) string {
	return map[string]string{"ok": "✅", "bad": "❌", "warn": "⚠️", "pending": "⏳"}[class]
}

// mdHeadline writes the verdict, the experiment's state in one line, and
// why it failed or is invalid.
func mdHeadline(b *strings.Builder, r *Report) {
	head, class := r.verdict()
	fmt.Fprintf(b, "## %s iter8: %s\n\n", mdVerdictIcon(class), head)
	s := r.Status
	facts := []string{
		map[bool]string{true: "experiment completed", false: "experiment has not completed"}[s.Completed],
		map[bool]string{true: "**failed**", false: "no task failures"}[s.Failure],
		fmt.Sprintf("%d of %d tasks completed", s.CompletedTasks, s.Tasks),
		fmt.Sprintf("%d %s", s.Loops, map[bool]string{true: "loop", false: "loops"}[s.Loops == 1]),
	}
	b.WriteString(strings.Join(facts, " · ") + "\n")
	if s.FailureReason != "" {
		fmt.Fprintf(b, "\n**Failure:**\n\n%s\n", mdBlock(s.FailureReason))
	}
	for _, warn := range s.Warnings {
		fmt.Fprintf(b, "\n> **Invalid run:** %s\n", mdText(warn))
	}
}

// mdSLOs writes the SLO table and, over several loops, how often each SLO
// passed.
func mdSLOs(b *strings.Builder, r *Report) {
	b.WriteString("\n### SLOs\n\n")
	mdRow(b, append([]string{"SLO"}, mdTexts(r.Versions)...))
	mdRule(b, len(r.Versions)+1)
	for _, o := range r.SLOs {
		cells := []string{mdCondition(o)}
		for _, res := range o.Results {
			cells = append(cells, mdOutcome(res))
		}
		mdRow(b, cells)
	}
	if ws := r.windowReasons(); len(ws) > 0 {
		b.WriteString("\n")
		for _, w := range ws {
			b.WriteString("- **window:** " + mdText(w) + "\n")
		}
	}
	if len(r.Loops) <= 1 {
		return
	}
	_, total := r.passedLoops(0, 0)
	fmt.Fprintf(b, "\nOver %d loops: ", total)
	var parts []string
	for i, o := range r.SLOs {
		for v := range o.Results {
			passed, total := r.passedLoops(i, v)
			name := mdCode(o.Metric)
			if len(r.Versions) > 1 {
				name += " (" + mdText(r.Versions[v]) + ")"
			}
			parts = append(parts, fmt.Sprintf("%s passed in %d of %d", name, passed, total))
		}
	}
	b.WriteString(strings.Join(parts, "; ") + ".\n")
}

// mdLoad writes a row per load provider, then what made a run
// connection-bound or aborted and how many of its latencies are lower
// bounds (the headline says why a run is invalid).
func mdLoad(b *strings.Builder, r *Report) {
	b.WriteString("\n### Load\n\n")
	mdRow(b, []string{"provider", "mode", "requests", "errors", "rate (intended / achieved)", "connections", "responses", "generator"})
	mdRule(b, 8, 2, 3)
	var notes []string
	for _, l := range r.Load {
		intended := "–"
		if l.IntendedRate > 0 {
			intended = num(l.IntendedRate)
		}
		gen := "ok"
		switch {
		case l.Saturated:
			gen = "⚠️ invalid run" // the headline says why
		case l.Warning != "":
			gen = "⚠️ connection-bound"
		}
		if l.Aborted != "" {
			notes = append(notes, fmt.Sprintf("- %s **aborted:** %s", mdCode(l.Provider), mdText(l.Aborted)))
		}
		for _, n := range healthNotes(l) {
			notes = append(notes, fmt.Sprintf("- %s **%s:** %s", mdCode(l.Provider), n.Kind, mdText(n.Text)))
		}
		mdRow(b, []string{mdCode(l.Provider), mdText(l.Mode), num(float64(l.Requests)), num(float64(l.Errors)),
			intended + " / " + num(l.AchievedRate) + " req/s", connectionsOf(l), mdText(codeSummary(l)), gen})
	}
	if len(notes) > 0 {
		b.WriteString("\n" + strings.Join(notes, "\n") + "\n")
	}
}

// mdLatency writes the brief latency table.
func mdLatency(b *strings.Builder, rows []latencyRow) {
	b.WriteString("\n### Latency (msec)\n\n")
	header := mdTexts(latencyColumns())
	mdRow(b, header)
	mdRule(b, len(header), allFrom(1, len(header))...)
	for _, row := range rows {
		cells := []string{mdCode(mdText(row.Name)), mdText(strconv.FormatInt(row.Count, 10))}
		for _, v := range row.Values {
			cells = append(cells, mdText(textValue(v)))
		}
		mdRow(b, append(cells, mdText(textValue(row.Max))))
	}
}

// mdMetrics writes every metric's latest value in a collapsed block.
func mdMetrics(b *strings.Builder, r *Report) {
	fmt.Fprintf(b, "\n<details><summary>Latest value of every metric (%d)</summary>\n\n", len(r.Metrics))
	mdRow(b, append([]string{"metric"}, mdTexts(r.Versions)...))
	mdRule(b, len(r.Versions)+1, allFrom(1, len(r.Versions)+1)...)
	for _, m := range r.Metrics {
		name := mdCode(m.Name)
		if m.Units != "" {
			name += " (" + mdText(m.Units) + ")"
		}
		cells := []string{name}
		for _, v := range m.Values {
			if v == nil {
				cells = append(cells, "unavailable")
			} else {
				cells = append(cells, num(*v))
			}
		}
		mdRow(b, cells)
	}
	b.WriteString("\n</details>\n")
}

func mdTexts(s []string) []string {
	out := make([]string, len(s))
	for i, t := range s {
		out[i] = mdText(t)
	}
	return out
}

func mdRow(b *strings.Builder, cells []string) {
	b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}

// mdRule writes the header separator of n columns, the right ones aligned
// right (numbers).
func mdRule(b *strings.Builder, n int, right ...int) {
	cells := make([]string, n)
	for i := range cells {
		cells[i] = "---"
	}
	for _, i := range right {
		cells[i] = "---:"
	}
	mdRow(b, cells)
}

func allFrom(first, n int) []int {
	var out []int
	for i := first; i < n; i++ {
		out = append(out, i)
	}
	return out
}

func mdCondition(s SLO) string {
	op := "≤"
	if s.Direction == slo.Lower {
		op = "≥"
	}
	out := mdCode(s.Metric) + " " + op + " " + num(s.Limit)
	if s.Units != "" {
		out += " " + mdText(s.Units)
	}
	return out
}

func mdOutcome(r SLOResult) string {
	l := r.label()
	out := l.icon + " " + l.name
	if r.Value != nil {
		out += " (" + num(*r.Value) + ")"
	}
	return out
}

// mdCode puts an identifier from the experiment in a code span, where
// Markdown and HTML are shown as typed; pipes are escaped for tables.
func mdCode(s string) string {
	s = clean(strings.NewReplacer("\r", " ", "\n", " ", "|", `\|`).Replace(s))
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// mdText escapes text from the experiment so that Markdown and HTML in it
// show as typed.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\r', '\n':
			b.WriteByte(' ')
		case '\t':
			b.WriteByte(' ')
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '\\', '`', '*', '_', '[', ']', '|', '#', '!', '~', '(', ')', '{', '}':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteString(clean(string(r)))
		}
	}
	return b.String()
}

// mdBlock shows multi-line text (a failure with script output) as a fenced
// code block.
func mdBlock(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = clean(l)
	}
	s = strings.Join(lines, "\n")
	fence := "```"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	return fence + "text\n" + strings.TrimRight(s, "\n") + "\n" + fence
}
