// Package report renders an experiment for people (text, HTML, Markdown) and
// machines (JSON, JUnit XML, YAML). Every format is built from one model,
// Report; HTML is a single self-contained file whose charts are drawn here as
// inline SVG, so it opens offline and from CI artifacts.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
)

// Options tune the output for where it goes.
type Options struct {
	// Width fits text output to a terminal this many columns wide; 0 means
	// no limit (a file or a pipe).
	Width int
	// Color adds ANSI colours to text output; set it only for a terminal.
	Color bool
}

// Writer renders an experiment in one format.
type Writer func(w io.Writer, exp *experiment.Experiment, o Options) error

// Formats maps output format names to writers.
func Formats() map[string]Writer {
	return map[string]Writer{
		"text":     Text,
		"html":     HTML,
		"json":     JSON,
		"junit":    JUnit,
		"markdown": Markdown,
		"yaml":     YAML,
	}
}

// FormatNames lists the formats, sorted.
func FormatNames() []string {
	var names []string
	for n := range Formats() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the writer for a format, or an error listing the formats.
func Lookup(name string) (Writer, error) {
	w, ok := Formats()[strings.ToLower(name)]
	if !ok {
		return nil, inputs.Invalidf("unknown report format %q: expected one of %s", name, strings.Join(FormatNames(), ", "))
	}
	return w, nil
}

// Text writes the report the original printed (an experiment summary, the
// SLO table and the latest value of every metric) with what this iter8
// adds: each SLO's value, "no data" and "invalid run" markers, SLO outcomes
// over loops, load generator health, responses by status code, and latency
// percentiles.
func Text(w io.Writer, exp *experiment.Experiment, o Options) error { return writeText(w, New(exp), o) }

// HTML writes the report as one self-contained HTML page: inline styles,
// charts drawn as inline SVG, no script and no external resource.
func HTML(w io.Writer, exp *experiment.Experiment, o Options) error { return writeHTML(w, New(exp), o) }

// JSON writes the report in the stable schema documented in
// docs/report-json.md.
func JSON(w io.Writer, exp *experiment.Experiment, o Options) error { return writeJSON(w, New(exp), o) }

// JUnit writes the report as JUnit XML, the shape CI systems (Jenkins,
// GitLab, GitHub Actions reporters, Azure Pipelines) read natively: a suite
// "slos" with one test case per SLO and version (a failed SLO or one without
// data is a failure; one judged on an invalid run, or whose query failed, an
// error; no data that the SLO ignores is skipped), and a suite "tasks" with
// one test case per task.
func JUnit(w io.Writer, exp *experiment.Experiment, o Options) error {
	return writeJUnit(w, New(exp), o)
}

// Markdown writes the report as GitHub-flavoured Markdown, for pull request
// comments and CI job summaries: the verdict, the SLO table with values and
// limits, load and latency in brief, and every metric in a collapsed block.
func Markdown(w io.Writer, exp *experiment.Experiment, o Options) error {
	return writeMarkdown(w, New(exp), o)
}

// YAML writes the experiment itself, spec and result, as iter8 stores it.
func YAML(w io.Writer, exp *experiment.Experiment, _ Options) error {
	b, err := experiment.Encode(exp)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func writeJSON(w io.Writer, r *Report, _ Options) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("writing JSON report: %w", err)
	}
	return nil
}
