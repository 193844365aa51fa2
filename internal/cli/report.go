package cli

import (
	"github.com/spf13/cobra"

	"iter8.tools/iter8/internal/experiment"
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
	var format string
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Show the results of an experiment",
		Long: `report prints the experiment in --runDir: a summary, the SLO verdicts per version, and the
latest value of every metric. It works while the experiment is still running.`,
		Example: `  iter8 report
  iter8 report -o json > result.json`,
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
			return w(a.streams.Out, exp)
		},
	}
	cmd.Flags().StringVarP(&format, "outputFormat", "o", "text", "output format: "+joinNames(report.FormatNames()))
	return cmd
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
