package report

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/slo"
)

// Text writes the report the original printed: an experiment summary, the
// SLO table and the latest value of every metric, with "no data" and
// "invalid run" shown apart from a plain failure.
func Text(w io.Writer, exp *experiment.Experiment) error {
	p := &printer{w: w}
	r := exp.Result
	if r == nil {
		r = &experiment.Result{}
	}
	p.section("Experiment summary")
	p.line("Experiment completed: %t", exp.Completed())
	p.line("No task failures: %t", !r.Failure)
	p.line("Total number of tasks: %d", len(exp.Spec))
	p.line("Number of completed tasks: %d", r.NumCompletedTasks)
	p.line("Number of completed loops: %d", r.NumLoops)
	if r.FailureReason != "" {
		p.line("Failure: %s", r.FailureReason)
	}
	in := r.Insights
	if in == nil {
		p.blank()
		p.line("Insights not found in experiment results. You may need to retry this report at a later time.")
		return p.err
	}
	if warnings := loadWarnings(in); len(warnings) > 0 {
		p.section("Load generation")
		for _, s := range warnings {
			p.line("%s", s)
		}
	}
	if len(in.SLOVerdicts) > 0 || in.SLOs != nil {
		p.section("Whether or not service level objectives (SLOs) are satisfied")
		p.table(sloRows(in))
	}
	p.section("Latest observed values for metrics")
	p.table(metricRows(in))
	return p.err
}

type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func (p *printer) section(title string) {
	p.printf("\n%s:\n%s\n\n", title, strings.Repeat("*", len(title)+1))
}

func (p *printer) line(format string, args ...any) { p.printf("  "+format+"\n", args...) }

func (p *printer) blank() { p.printf("\n") }

func (p *printer) table(rows [][]string) {
	if p.err != nil || len(rows) == 0 {
		return
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 1, ' ', tabwriter.Debug)
	for i, row := range rows {
		_, _ = fmt.Fprintf(tw, "  %s\n", strings.Join(row, "\t "))
		if i == 0 {
			dashes := make([]string, len(row))
			for j, h := range row {
				dashes[j] = strings.Repeat("-", len(h))
			}
			_, _ = fmt.Fprintf(tw, "  %s\n", strings.Join(dashes, "\t "))
		}
	}
	p.err = tw.Flush()
}

func versionHeaders(in *experiment.Insights, single string) []string {
	if in.NumVersions <= 1 && len(in.VersionNames) == 0 {
		return []string{single}
	}
	h := make([]string, in.NumVersions)
	for i := range h {
		h[i] = in.VersionLabel(i)
	}
	return h
}

func sloRows(in *experiment.Insights) [][]string {
	rows := [][]string{append([]string{"SLO Conditions"}, versionHeaders(in, "Satisfied")...)}
	for _, v := range in.SLOVerdicts {
		units := ""
		if m, ok := in.MetaOf(v.Metric); ok {
			units = m.Units
		}
		row := []string{v.Format(units)}
		for _, r := range v.Versions {
			row = append(row, outcomeCell(r))
		}
		rows = append(rows, row)
	}
	if len(in.SLOVerdicts) == 0 && in.SLOs != nil && in.SLOsSatisfied != nil {
		// An experiment written by the original: booleans only.
		add := func(list []experiment.SLO, sat [][]bool, dir slo.Direction) {
			for i, s := range list {
				units := ""
				if m, ok := in.MetaOf(s.Metric); ok {
					units = m.Units
				}
				row := []string{slo.Objective{Metric: s.Metric, Limit: s.Limit, Direction: dir}.Format(units)}
				if i < len(sat) {
					for _, ok := range sat[i] {
						row = append(row, strconv.FormatBool(ok))
					}
				}
				rows = append(rows, row)
			}
		}
		add(in.SLOs.Upper, in.SLOsSatisfied.Upper, slo.Upper)
		add(in.SLOs.Lower, in.SLOsSatisfied.Lower, slo.Lower)
	}
	return rows
}

func outcomeCell(r slo.Result) string {
	switch r.Outcome {
	case slo.Passed:
		return "true"
	case slo.NoData:
		if r.Ignored {
			return "ignored (no data)"
		}
		return "false (no data)"
	case slo.Error:
		return "false (query error)"
	case slo.Invalid:
		return "false (invalid run)"
	}
	return "false"
}

func metricRows(in *experiment.Insights) [][]string {
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
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	rows := [][]string{append([]string{"Metric"}, versionHeaders(in, "value")...)}
	for _, name := range sorted {
		label := name
		if m, ok := in.MetaOf(name); ok && m.Units != "" {
			label += " (" + m.Units + ")"
		}
		row := []string{label}
		for i := range max(in.NumVersions, 1) {
			if v, ok := in.Value(name, i); ok {
				row = append(row, fmt.Sprintf("%0.2f", v))
			} else if reason, failed := in.Missing(name, i); failed {
				row = append(row, "unavailable (query error)")
			} else if reason != "" {
				row = append(row, "unavailable (no data)")
			} else {
				row = append(row, "unavailable")
			}
		}
		rows = append(rows, row)
	}
	return rows
}

func loadWarnings(in *experiment.Insights) []string {
	var out []string
	for _, p := range sortedProviders(in.Load) {
		ls := in.Load[p]
		if ls.Saturated {
			out = append(out, fmt.Sprintf("%s: INVALID RUN: %s", p, ls.SaturationReason))
		}
	}
	return out
}

func sortedProviders(m map[string]*experiment.LoadStats) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
