package report

import (
	"fmt"
	"io"
	"strings"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/slo"
)

// Markdown writes the report as GitHub-flavoured Markdown, for pull request
// comments and CI job summaries: the verdict, the SLO table with values and
// limits, load and latency in brief, and every metric in a collapsed block.
func Markdown(w io.Writer, exp *experiment.Experiment, _ Options) error {
	r := New(exp)
	var b strings.Builder
	head, _ := verdict(r)
	icon := map[string]string{"ok": "✅", "bad": "❌", "warn": "⚠️", "pending": "⏳"}[func() string { _, c := verdict(r); return c }()]
	fmt.Fprintf(&b, "## %s iter8: %s\n\n", icon, head)
	s := r.Status
	facts := []string{
		map[bool]string{true: "experiment completed", false: "experiment has not completed"}[s.Completed],
		map[bool]string{true: "**failed**", false: "no task failures"}[s.Failure],
		fmt.Sprintf("%d of %d tasks completed", s.CompletedTasks, s.Tasks),
		fmt.Sprintf("%d %s", s.Loops, map[bool]string{true: "loop", false: "loops"}[s.Loops == 1]),
	}
	b.WriteString(strings.Join(facts, " · ") + "\n")
	if s.FailureReason != "" {
		fmt.Fprintf(&b, "\n**Failure:**\n\n%s\n", mdBlock(s.FailureReason))
	}
	for _, warn := range s.Warnings {
		fmt.Fprintf(&b, "\n> **Invalid run:** %s\n", mdText(warn))
	}
	if !s.Insights {
		b.WriteString("\nNo results yet: no task has recorded metrics. Retry this report later.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	if len(r.SLOs) > 0 {
		b.WriteString("\n### SLOs\n\n")
		mdRow(&b, append([]string{"SLO"}, mdTexts(r.Versions)...))
		mdRule(&b, len(r.Versions)+1)
		for _, o := range r.SLOs {
			cells := []string{mdCondition(o)}
			for _, res := range o.Results {
				cells = append(cells, mdOutcome(res))
			}
			mdRow(&b, cells)
		}
		if len(r.Loops) > 1 {
			_, total := r.passedLoops(0, 0)
			fmt.Fprintf(&b, "\nOver %d loops: ", total)
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
	}
	if len(r.Load) > 0 {
		b.WriteString("\n### Load\n\n")
		mdRow(&b, []string{"provider", "mode", "requests", "errors", "rate (intended / achieved)", "responses", "generator"})
		mdRule(&b, 7, 2, 3)
		for _, l := range r.Load {
			intended := "–"
			if l.IntendedRate > 0 {
				intended = num(l.IntendedRate)
			}
			gen := "ok"
			if l.Saturated {
				gen = "⚠️ invalid run"
			}
			mdRow(&b, []string{mdCode(l.Provider), mdText(l.Mode), num(float64(l.Requests)), num(float64(l.Errors)),
				intended + " / " + num(l.AchievedRate) + " req/s", mdText(codeSummary(l)), gen})
		}
	}
	if rows := latencyRows(r); len(rows) > 1 {
		b.WriteString("\n### Latency (msec)\n\n")
		mdRow(&b, cellTexts(rows[0]))
		mdRule(&b, len(rows[0]), allFrom(1, len(rows[0]))...)
		for _, row := range rows[1:] {
			cells := cellTexts(row)
			cells[0] = mdCode(cells[0])
			mdRow(&b, cells)
		}
	}
	fmt.Fprintf(&b, "\n<details><summary>Latest value of every metric (%d)</summary>\n\n", len(r.Metrics))
	mdRow(&b, append([]string{"metric"}, mdTexts(r.Versions)...))
	mdRule(&b, len(r.Versions)+1, allFrom(1, len(r.Versions)+1)...)
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
		mdRow(&b, cells)
	}
	b.WriteString("\n</details>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func cellTexts(row []cell) []string {
	out := make([]string, len(row))
	for i, c := range row {
		out[i] = mdText(c.text)
	}
	return out
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
	icon := map[slo.Outcome]string{slo.Passed: "✅", slo.Failed: "❌", slo.NoData: "⚠️", slo.Invalid: "⚠️", slo.Error: "❌"}[r.Outcome]
	name := outcomeName(r.Outcome)
	if r.Ignored {
		icon, name = "➖", "no data (ignored)"
	}
	out := icon + " " + name
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
