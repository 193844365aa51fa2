package cli

import (
	"path/filepath"

	"github.com/spf13/cobra"

	"iter8.tools/iter8/internal/store"
	"iter8.tools/iter8/internal/task"
)

func newLaunchCmd(a *app) *cobra.Command {
	o := &genOptions{}
	var (
		dry   bool
		loops loopOptions
	)
	cmd := &cobra.Command{
		Use:   "launch",
		Short: "Generate an experiment from values and run it",
		Long: `launch renders the experiment chart with the given values into experiment.yaml in
--runDir (as iter8 gen does) and runs it (as iter8 run does). With --dry it only writes
experiment.yaml.`,
		Example: `  iter8 launch --set "tasks={http,assess}" --set http.url=http://127.0.0.1:8080/get \
    --set assess.SLOs.upper.http/latency-mean=50 --set assess.SLOs.upper.http/error-count=0

  # numbers with decimals and escaped dots in metric names
  iter8 launch --set "tasks={http,assess}" --set http.url=http://127.0.0.1:8080/get \
    --set http.qps=12.5 --set "http.percentiles={97.5}" \
    --set assess.SLOs.upper.http/latency-p'97\.5'=100

  # five loops, a minute apart, each re-assessing the SLOs
  iter8 launch -f values.yaml --loops 5 --interval 1m

  # write experiment.yaml only
  iter8 launch --dry -f values.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := loops.check(); err != nil {
				return err
			}
			st, unlock, err := o.write(cmd.Context())
			if err != nil {
				return err
			}
			defer unlock()
			if dry {
				a.logger.Info("experiment generated (dry run)", "file", filepath.Join(o.runDir, store.FileName))
				return nil
			}
			_, err = loops.run(cmd.Context(), a.runner(st, o.runDir, false, task.Deps{})) // write holds the lock
			return err
		},
	}
	o.addFlags(cmd.Flags())
	cmd.Flags().BoolVar(&dry, "dry", false, "write experiment.yaml without running it")
	loops.addFlags(cmd.Flags())
	return cmd
}
