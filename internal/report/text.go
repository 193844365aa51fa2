package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/slo"
)

// writeText prints the original's report first, section for section and
// cell for cell as the original Iter8 (v0.13.4+) printed it, so scripts
// that grep it keep working; iter8's additions follow in their own
// sections.
func writeText(w io.Writer, r *Report, o Options) error {
	p := &printer{w: w, o: o}
	p.original(r)
	p.additions(r)
	return p.err
}

// original prints the original's sections: the summary, the SLO table
// (true or false per version) and the metrics table (%0.2f or
// "unavailable"), or the original's words when there are no insights.
func (p *printer) original(r *Report) {
	s := r.Status
	p.printf("\n%s\n*******************\n\n", p.paint("Experiment summary:", bold))
	p.printf("  Experiment completed: %s\n", p.paint(strconv.FormatBool(s.Completed), boolStyle(s.Completed, yellow)))
	p.printf("  No task failures: %s\n", p.paint(strconv.FormatBool(!s.Failure), boolStyle(!s.Failure, red)))
	p.printf("  Total number of tasks: %d\n", s.Tasks)
	p.printf("  Number of completed tasks: %d\n", s.CompletedTasks)
	p.printf("  Number of completed loops: %d", s.Loops)
	if !s.Insights {
		p.printf("\n\n%s\n***********************\n\n", p.paint("Metrics-based Insights:", bold))
		p.printf("  Insights not found in experiment results. You may need to retry this report at a later time.\n\n")
		return
	}
	if len(r.SLOs) > 0 {
		p.printf("\n\n%s\n%s\n\n", p.paint("Whether or not service level objectives (SLOs) are satisfied:", bold), strings.Repeat("*", 61))
		p.table(originalSLORows(r), originalRule(r, "--------------", "---------"))
		p.printf("  ")
	}
	p.printf("\n\n%s\n***********************************\n\n", p.paint("Latest observed values for metrics:", bold))
	p.table(originalMetricRows(r), originalRule(r, "-------", "-----"))
	p.printf("  \n\n")
}

// additions prints what this iter8 knows beyond the original, each in its
// own section after the original's: why the experiment failed or where its
// tasks are, the values SLOs were judged on, their outcomes over loops,
// the load generator's health, latency percentiles and why values are
// missing.
func (p *printer) additions(r *Report) {
	s := r.Status
	var pending []Task
	if !s.Completed && r.taskStates {
		for _, t := range r.Tasks {
			if t.State != string(experiment.Completed) {
				pending = append(pending, t)
			}
		}
	}
	var warned []Task
	for _, t := range r.Tasks {
		if len(t.Warnings) > 0 {
			warned = append(warned, t)
		}
	}
	if s.Aborted || s.FailureReason != "" || len(pending) > 0 || len(warned) > 0 {
		p.section("Experiment details")
		if s.Aborted {
			p.line("Experiment aborted: %s", p.paint("true", red))
		}
		if s.FailureReason != "" {
			p.wrapped("Failure: ", s.FailureReason, red)
		}
		for _, t := range pending {
			p.line("Task %d (%s): %s", t.Index, clean(t.Name), p.paint(t.State, taskStyle(t.State)))
		}
		for _, t := range warned {
			for _, w := range t.Warnings {
				p.line("Task %d (%s): warning: %s", t.Index, clean(t.Name), clean(w))
			}
		}
		p.blank()
	}
	if !s.Insights {
		return
	}
	if len(r.SLOs) > 0 && r.verdicts {
		p.section("SLO outcomes and the values judged")
		p.table(sloRows(r), nil)
		for _, w := range r.windowReasons() {
			p.wrapped("WINDOW: ", w, yellow)
		}
		p.blank()
	}
	if len(r.SLOs) > 0 && len(r.Loops) > 1 {
		p.section("SLO outcomes over loops")
		p.table(trendRows(r, p), nil)
		p.blank()
		p.trendLegend(r)
		p.blank()
	}
	if len(r.Load) > 0 {
		p.section("Load generation")
		p.table(loadRows(r), nil)
		p.blank()
		p.loadNotes(r)
		p.blank()
	}
	if rows := podRows(r); rows != nil {
		p.section("Load generator pods")
		p.table(rows, nil)
		p.blank()
		if p.podNotes(r) {
			p.blank()
		}
	}
	if rows := latencyRows(r); len(rows) > 1 {
		p.section("Latency percentiles (msec)")
		p.table(rows, nil)
		p.blank()
	}
	if rows := missingRows(r); len(rows) > 1 {
		p.section("Metrics without a value")
		p.table(rows, nil)
		p.blank()
	}
}

// trendLegend explains the marks of the loops table.
func (p *printer) trendLegend(r *Report) {
	var parts []string
	labels := []outcomeLabel{labelOf(slo.Passed), labelOf(slo.Failed), labelOf(slo.NoData), ignoredLabel(), labelOf(slo.Error), labelOf(slo.Invalid)}
	if r.loopNotJudged() {
		labels = append(labels, labelOf(slo.NotJudged))
	}
	if r.loopMixed() {
		labels = append(labels, mixedLabel())
	}
	for _, l := range labels {
		parts = append(parts, p.paint(l.mark, l.style)+" "+l.name)
	}
	p.line("%s; oldest loop first", strings.Join(parts, "  "))
}

// loadNotes prints each load's responses and what made a run invalid,
// aborted or short.
func (p *printer) loadNotes(r *Report) {
	for _, l := range r.Load {
		p.wrapped(l.Provider+" responses: ", codeSummary(l), plain)
		if l.Name != "" || len(l.Tags) > 0 { // ghz's name and tags
			p.wrapped(l.Provider+" run: ", runLabel(l), plain)
		}
	}
	for _, w := range r.Status.Warnings {
		p.wrapped("INVALID RUN: ", w, yellow)
	}
	for _, l := range r.Load {
		if l.Aborted != "" {
			p.wrapped("ABORTED: ", l.Provider+": "+l.Aborted, red)
		}
		for _, n := range healthNotes(l) {
			p.wrapped(strings.ToUpper(n.Kind)+": ", l.Provider+": "+n.Text, yellow)
		}
	}
}

func taskStyle(state string) string {
	switch experiment.TaskState(state) {
	case experiment.Failed:
		return red
	case experiment.Running:
		return yellow
	}
	return plain
}

func boolStyle(ok bool, bad string) string {
	if ok {
		return green
	}
	return bad
}

// cell is a table cell: its text and an optional ANSI style, or its text
// already painted in several styles.
type cell struct {
	text    string
	style   string
	painted string
}

type printer struct {
	w   io.Writer
	o   Options
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func (p *printer) paintCell(c cell) string {
	if c.painted != "" {
		return c.painted
	}
	return p.paint(clean(c.text), c.style)
}

// paint wraps s in an ANSI style when colour is on.
func (p *printer) paint(s, style string) string {
	if !p.o.Color || style == "" || s == "" {
		return s
	}
	return "\x1b[" + style + "m" + s + "\x1b[0m"
}

// section starts one of iter8's own sections; the text before it ends
// with a blank line.
func (p *printer) section(title string) {
	p.printf("%s\n%s\n\n", p.paint(title+":", bold), strings.Repeat("*", len(title)+1))
}

func (p *printer) line(format string, args ...any) { p.printf("  "+format+"\n", args...) }

func (p *printer) blank() { p.printf("\n") }

// wrapped prints label and text, the text wrapped to the width and its
// continuation lines indented.
func (p *printer) wrapped(label, text, style string) {
	const indent = "    "
	first := true
	for _, para := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		prefix := indent
		if first {
			prefix = label
		}
		for _, l := range wrapLine(clean(para), p.o.Width-2-utf8.RuneCountInString(prefix)) {
			p.printf("  %s%s\n", prefix, p.paint(l, style))
			prefix = indent
		}
		first = false
	}
}

// wrapLine breaks s at spaces into lines of at most width runes (longer
// words stay whole); width <= 0 means no limit.
func wrapLine(s string, width int) []string {
	if width <= 10 || utf8.RuneCountInString(s) <= width {
		return []string{s}
	}
	var out []string
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = word
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= width:
			line += " " + word
		default:
			out = append(out, line)
			line = word
		}
	}
	return append(out, line)
}

// table prints rows (the first is the header) as the original did, with
// " | " between columns. When the table is wider than the terminal, the
// value columns are split into several tables that each fit, repeating the
// first column; when even one value column does not fit, each row is
// printed as a block. rule is the line under the header; nil means dashes
// as long as each header.
func (p *printer) table(rows [][]cell, rule []cell) {
	if p.err != nil || len(rows) == 0 {
		return
	}
	cols := len(rows[0])
	if rule == nil {
		rule = make([]cell, cols)
		for j, h := range rows[0] {
			rule[j] = cell{text: strings.Repeat("-", utf8.RuneCountInString(h.text))}
		}
	}
	rows = append([][]cell{rows[0], rule}, rows[1:]...)
	widths := make([]int, cols)
	for _, row := range rows {
		for j, c := range row {
			widths[j] = max(widths[j], utf8.RuneCountInString(c.text))
		}
	}
	total := 2 + widths[0]
	for _, w := range widths[1:] {
		total += 3 + w
	}
	if p.o.Width <= 0 || total <= p.o.Width || cols < 2 {
		p.printTable(rows, widths, allColumns(cols))
		return
	}
	var groups [][]int
	group, used := []int{0}, 2+widths[0]
	for j := 1; j < cols; j++ {
		if len(group) > 1 && used+3+widths[j] > p.o.Width {
			groups = append(groups, group)
			group, used = []int{0}, 2+widths[0]
		}
		group = append(group, j)
		used += 3 + widths[j]
	}
	groups = append(groups, group)
	for _, g := range groups {
		w := 2 + widths[0]
		for _, j := range g[1:] {
			w += 3 + widths[j]
		}
		if w > p.o.Width {
			p.printBlocks(rows)
			return
		}
	}
	for i, g := range groups {
		if i > 0 {
			p.blank()
		}
		p.printTable(rows, widths, g)
	}
}

func allColumns(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func (p *printer) printTable(rows [][]cell, widths []int, cols []int) {
	for _, row := range rows {
		p.printRow(row, widths, cols)
	}
}

func (p *printer) printRow(row []cell, widths []int, cols []int) {
	var b strings.Builder
	b.WriteString("  ")
	for k, j := range cols {
		c := row[j]
		b.WriteString(p.paintCell(c))
		if k < len(cols)-1 {
			b.WriteString(strings.Repeat(" ", widths[j]-utf8.RuneCountInString(c.text)))
			b.WriteString(" | ")
		}
	}
	p.printf("%s\n", b.String())
}

// printBlocks prints each row as its first cell followed by one indented
// "header: value" line per other column.
func (p *printer) printBlocks(rows [][]cell) {
	header := rows[0]
	for i, row := range rows[2:] { // after the header and its rule
		if i > 0 {
			p.blank()
		}
		p.printf("  %s\n", p.paintCell(row[0]))
		for j := 1; j < len(row); j++ {
			p.printf("    %s: %s\n", clean(header[j].text), p.paintCell(row[j]))
		}
	}
}

func texts(s ...string) []cell {
	out := make([]cell, len(s))
	for i, t := range s {
		out[i] = cell{text: t}
	}
	return out
}

// versionHeaders are the value columns: one per version, or a single column
// named single for a one-version experiment without version names.
func versionHeaders(r *Report, single string) []string {
	if r.oneUnnamedVersion() {
		return []string{single}
	}
	return r.Versions
}

// originalRule is the line under the original's table header: its first
// dashes, then its dashes per version column (one column unless there are
// several versions).
func originalRule(r *Report, first, each string) []cell {
	rule := []cell{{text: first}}
	for range max(len(r.Versions), 1) {
		rule = append(rule, cell{text: each})
	}
	return rule
}

// originalHeaders are the original's value columns: one named single
// unless there are several versions, then each version's label.
func originalHeaders(r *Report, single string) []string {
	if len(r.Versions) > 1 {
		return r.Versions
	}
	return []string{single}
}

// originalSLORows are the original's SLO table: each condition, its limit
// printed as the original printed numbers, and true or false per version.
func originalSLORows(r *Report) [][]cell {
	rows := [][]cell{texts(append([]string{"SLO Conditions"}, originalHeaders(r, "Satisfied")...)...)}
	for _, s := range r.SLOs {
		row := []cell{{text: originalCondition(s)}}
		for _, res := range s.Results {
			ok := res.Satisfied()
			row = append(row, cell{text: strconv.FormatBool(ok), style: boolStyle(ok, red)})
		}
		rows = append(rows, row)
	}
	return rows
}

// originalCondition is the condition as the original wrote it: the limit
// in Go's %v (1e+07, not 10000000).
func originalCondition(s SLO) string {
	m := s.Metric
	if s.Units != "" {
		m += " (" + s.Units + ")"
	}
	if s.Direction == slo.Lower {
		return fmt.Sprintf("%v <= %s", s.Limit, m)
	}
	return fmt.Sprintf("%s <= %v", m, s.Limit)
}

// originalMetricRows are the original's metrics table: each value with two
// decimals, or "unavailable" (why is in iter8's own section).
func originalMetricRows(r *Report) [][]cell {
	rows := [][]cell{texts(append([]string{"Metric"}, originalHeaders(r, "value")...)...)}
	for _, m := range r.Metrics {
		label := m.Name
		if m.Units != "" {
			label += " (" + m.Units + ")"
		}
		row := []cell{{text: label}}
		for _, v := range m.Values {
			if v == nil {
				row = append(row, cell{text: "unavailable"})
				continue
			}
			row = append(row, cell{text: fmt.Sprintf("%0.2f", *v)})
		}
		rows = append(rows, row)
	}
	return rows
}

// missingRows say, per metric and version, why a value is missing when a
// task said why.
func missingRows(r *Report) [][]cell {
	rows := [][]cell{texts("Metric", "Version", "Why")}
	for _, m := range r.Metrics {
		for i, ms := range m.Missing {
			if ms == nil || m.Values[i] != nil {
				continue
			}
			why := labelOf(ms.Outcome).name
			if ms.Reason != "" {
				why += ": " + ms.Reason
			}
			style := ""
			if ms.Outcome == slo.Error {
				style = red
			}
			rows = append(rows, []cell{{text: m.Name}, {text: versionLabel(r.Versions, i)}, {text: why, style: style}})
		}
	}
	return rows
}

func sloRows(r *Report) [][]cell {
	rows := [][]cell{texts(append([]string{"SLO Conditions"}, versionHeaders(r, "Satisfied")...)...)}
	for _, s := range r.SLOs {
		row := []cell{{text: s.Condition}}
		for _, res := range s.Results {
			row = append(row, outcomeCell(res, s.Limit))
		}
		rows = append(rows, row)
	}
	return rows
}

// outcomeCell shows the original's true/false with the value judged
// (never rounded to the limit it missed), or why there was none.
func outcomeCell(r SLOResult, limit float64) cell {
	v := ""
	if r.Value != nil {
		v = slo.Beside(*r.Value, limit, textValue(*r.Value))
	}
	l := labelOf(r.Outcome)
	switch r.Outcome {
	case slo.Passed:
		return cell{text: withValue("true", v), style: l.style}
	case slo.Failed:
		return cell{text: withValue("false", v), style: l.style}
	case slo.NoData:
		if r.Ignored {
			return cell{text: "ignored (no data)"}
		}
		return cell{text: "false (" + l.name + ")", style: l.style}
	case slo.Error, slo.NotJudged:
		return cell{text: "false (" + l.name + ")", style: l.style}
	case slo.Invalid:
		if v != "" {
			return cell{text: "false (" + l.name + ": " + v + ")", style: l.style}
		}
		return cell{text: "false (" + l.name + ")", style: l.style}
	}
	return cell{text: string(r.Outcome)}
}

func withValue(s, v string) string {
	if v == "" {
		return s
	}
	return s + " (" + v + ")"
}

func trendRows(r *Report, p *printer) [][]cell {
	loops := r.Loops
	if p.o.Width > 0 {
		// the latest loops that fit next to the conditions
		if n := max(10, p.o.Width-50); len(loops) > n {
			loops = loops[len(loops)-n:]
		}
	}
	first := loops[0].Loop - max(loops[0].Loops, 1) + 1
	span := fmt.Sprintf("Loops %d-%d", first, loops[len(loops)-1].Loop)
	if merged := len(loops) < loops[len(loops)-1].Loop-first+1; merged {
		// older loops are merged in the history: a mark per entry
		span += fmt.Sprintf(" (%d marks, older loops merged)", len(loops))
	}
	headers := []string{span}
	if !r.oneUnnamedVersion() {
		headers = nil
		for _, v := range r.Versions {
			headers = append(headers, v+", "+span)
		}
	}
	rows := [][]cell{texts(append([]string{"SLO Conditions"}, headers...)...)}
	for i, s := range r.SLOs {
		row := []cell{{text: s.Condition}}
		for v := range s.Results {
			// the marks carry their own colours, so the cell is pre-painted
			// and padded by its visible length
			var text, painted strings.Builder
			for _, l := range loops {
				m := r.entryLabel(l, i, v)
				text.WriteString(m.mark)
				painted.WriteString(p.paint(m.mark, m.style))
			}
			row = append(row, cell{text: text.String(), painted: painted.String()})
		}
		rows = append(rows, row)
	}
	return rows
}

func loadRows(r *Report) [][]cell {
	rows := [][]cell{texts("Provider", "Mode", "Protocol", "Requests", "Errors", "Rate (intended / achieved)", "Delayed", "Connections", "CPU")}
	for _, l := range r.Load {
		intended := "-"
		if l.IntendedRate > 0 {
			intended = textValue(l.IntendedRate)
		}
		row := texts(l.Provider, l.Mode, dash(l.Protocol), strconv.FormatInt(l.Requests, 10), strconv.FormatInt(l.Errors, 10),
			intended+" / "+textValue(l.AchievedRate)+" req/s", strconv.FormatInt(l.Delayed, 10), connectionsOf(l), fmt.Sprintf("%.1f%%", 100*l.CPUUtilization))
		if l.Saturated {
			row[5].style = yellow
		}
		if l.Errors > 0 {
			row[4].style = red
		}
		rows = append(rows, row)
	}
	return rows
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func latencyRows(r *Report) [][]cell {
	rows := [][]cell{texts(latencyColumns()...)}
	for _, l := range r.latencyRows() {
		row := texts(l.Name, strconv.FormatInt(l.Count, 10))
		for _, v := range l.Values {
			row = append(row, cell{text: textValue(v)})
		}
		rows = append(rows, append(row, cell{text: textValue(l.Max)}))
	}
	return rows
}
