package cli

import (
	"path/filepath"

	"github.com/spf13/cobra"

	"iter8.tools/iter8/internal/chart"
)

// hubOptions write the built-in chart to a folder, as Iter8 v0.11's hub
// command downloaded the remote charts folder into ./charts.
type hubOptions struct {
	chartsParentDir, remoteFolderURL string
}

// dir is the chart folder hub writes: <chartsParentDir>/charts/iter8.
func (o *hubOptions) dir() string {
	parent := o.chartsParentDir
	if parent == "" {
		parent = "."
	}
	return filepath.Join(parent, "charts", "iter8")
}

func newHubCmd(a *app) *cobra.Command {
	o := &hubOptions{}
	cmd := &cobra.Command{
		Use:   "hub",
		Short: "Write the built-in experiment chart to ./charts/iter8 for editing",
		Long: `hub writes iter8's built-in experiment chart into charts/iter8 (under --chartsParentDir),
where Iter8 v0.11's hub command downloaded the remote charts folder. Edit it, then render it with
  iter8 launch --localChart -c charts/iter8 ...   (or, as in v0.11, iter8 launch --noDownload ...)
iter8 downloads nothing: --remoteFolderURL is accepted, and the built-in chart stands in for it.
An existing charts/iter8 is never overwritten.`,
		Example: `  iter8 hub
  iter8 launch --localChart -c charts/iter8 --set "tasks={http}" --set http.url=http://127.0.0.1:8080/`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			dir := o.dir()
			if err := chart.WriteEmbedded(dir); err != nil {
				return err
			}
			attrs := []any{"folder", dir}
			if o.remoteFolderURL != "" {
				attrs = append(attrs, "standsInFor", o.remoteFolderURL)
			}
			a.logger.Info("wrote the built-in chart iter8", attrs...)
			return nil
		},
	}
	addV011ChartFlags(cmd.Flags(), &o.chartsParentDir, &o.remoteFolderURL)
	for _, f := range []string{"chartsParentDir", "remoteFolderURL"} {
		cmd.Flags().Lookup(f).Hidden = false // hub's own flags
	}
	return cmd
}
