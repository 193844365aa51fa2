package cli

import (
	"bytes"
	"errors"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/report"
	"iter8.tools/iter8/internal/store"
)

func newReportCmd(a *app) *cobra.Command {
	var runDir string
	cmd := reportCmd(a, func() (experiment.Store, error) { return store.NewFile(runDir), nil })
	cmd.Flags().StringVar(&runDir, "runDir", ".", "directory holding experiment.yaml")
	return cmd
}

// reportCmd is the report command reading the experiment from the store
// st returns (a file here, a Secret for k report).
func reportCmd(a *app, st func() (experiment.Store, error)) *cobra.Command {
	var (
		format     string
		outputFile string
	)
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Show the results of an experiment",
		Long: `report shows the experiment in --runDir: a summary, the SLO verdicts per version with their
values and limits, load generator health, latency, and the latest value of every metric. It
works while the experiment is still running.

Formats (-o):
  text      for a terminal (the default): fitted to its width, coloured when stdout is a terminal
  html      one self-contained page with charts; opens offline, loads nothing, runs no script
  markdown  for pull request comments and CI job summaries
  json      a stable, documented schema for tools (docs/report-json.md)
  junit     JUnit XML: each SLO and version is a test case, so CI systems show SLO results
  yaml      the experiment itself, spec and result, as iter8 stores it`,
		Example: `  iter8 report
  iter8 report -o html --output-file report.html
  iter8 report -o junit --output-file slo-results.xml
  iter8 report -o json | jq -r '.slos[] | select(any(.results[]; .outcome != "passed")) | .condition'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := report.Lookup(format)
			if err != nil {
				return err
			}
			src, err := st()
			if err != nil {
				return err
			}
			exp, err := src.Load(cmd.Context())
			if err != nil {
				return err
			}
			if outputFile == "" {
				return w(a.streams.Out, exp, a.textOptions())
			}
			var buf bytes.Buffer
			if err := w(&buf, exp, report.Options{}); err != nil {
				return err
			}
			if err := store.WriteAtomic(outputFile, buf.Bytes()); err != nil {
				return inputs.Invalidf("--output-file %s: cannot write the report: %v", outputFile, errors.Unwrap(err))
			}
			a.logger.Info("report written", "file", outputFile, "format", format)
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "outputFormat", "o", "text", "output format: "+joinNames(report.FormatNames()))
	cmd.Flags().StringVar(&outputFile, "output-file", "", "write the report to this file (replaced atomically) instead of stdout")
	return cmd
}

// textOptions fits text reports to stdout: its width and colours when it is
// a terminal (and NO_COLOR is not set), no limit and no colour otherwise.
func (a *app) textOptions() report.Options {
	f, ok := a.streams.Out.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return report.Options{}
	}
	o := report.Options{Color: os.Getenv("NO_COLOR") == ""}
	if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
		o.Width = w
	}
	return o
}

func joinNames(names []string) string {
	s := ""
	for i, n := range names {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}
