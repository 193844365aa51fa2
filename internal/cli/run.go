package cli

import (
	"context"
	"path/filepath"

	"github.com/spf13/cobra"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/store"
	"iter8.tools/iter8/internal/task"
	"iter8.tools/iter8/internal/version"
)

// runOptions run a stored experiment.
type runOptions struct {
	runDir      string
	reuseResult bool
}

func (a *app) runner(st experiment.Store, dir string, reuse bool) *experiment.Runner {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return &experiment.Runner{
		Store:       st,
		Registry:    task.Registry(),
		Logger:      a.logger,
		Dir:         abs,
		Progress:    a.progress(),
		ReuseResult: reuse,
		Version:     version.MajorMinor(),
	}
}

func (o *runOptions) Run(ctx context.Context, a *app) error {
	_, err := a.runner(store.NewFile(o.runDir), o.runDir, o.reuseResult).Run(ctx)
	return err
}

func newRunCmd(a *app) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the experiment in experiment.yaml",
		Long: `run executes the tasks of experiment.yaml in --runDir, one loop, and rewrites the file
after every task, so that iter8 report and iter8 assert can watch it progress.
With --reuseResult the stored result is kept and a further loop is added.`,
		Example: `  iter8 run
  iter8 run --runDir ./exp1 --reuseResult`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.Run(cmd.Context(), a)
		},
	}
	cmd.Flags().StringVar(&o.runDir, "runDir", ".", "directory holding experiment.yaml")
	cmd.Flags().BoolVar(&o.reuseResult, "reuseResult", false, "keep the stored result and add a loop")
	return cmd
}
