package cli

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"iter8.tools/iter8/internal/chart"
	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/store"
	"iter8.tools/iter8/internal/task"
	"iter8.tools/iter8/internal/version"
)

// runOptions run a stored experiment.
type runOptions struct {
	runDir      string
	reuseResult bool
	loops       loopOptions
}

// loopOptions repeat an experiment locally.
type loopOptions struct {
	loops    int
	interval time.Duration
}

func (o *loopOptions) addFlags(fs *pflag.FlagSet) {
	fs.IntVar(&o.loops, "loops", 1, "number of loops to run, reusing the result (0: until stopped)")
	fs.DurationVar(&o.interval, "interval", 0, "time from the start of one loop to the start of the next")
}

func (o *loopOptions) check() error {
	if o.loops < 0 {
		return usagef("--loops %d: expected 0 (until stopped) or more", o.loops)
	}
	if o.interval < 0 {
		return usagef("--interval %v: expected a duration >= 0", o.interval)
	}
	return nil
}

// run runs the loops with a runner.
func (o *loopOptions) run(ctx context.Context, r *experiment.Runner) (*experiment.Experiment, error) {
	if o.loops == 1 {
		return r.Run(ctx)
	}
	return r.Loops(ctx, o.loops, o.interval)
}

// runner returns a runner of the experiment in st; dir is the run directory
// given to tasks, deps what they need. The caller sets Locker when the
// runner should lock the experiment itself.
func (a *app) runner(st experiment.Store, dir string, reuse bool, deps task.Deps) *experiment.Runner {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	return &experiment.Runner{
		Store:       st,
		Registry:    task.Registry(deps),
		Logger:      a.logger,
		Dir:         abs,
		Progress:    a.progress(),
		ReuseResult: reuse,
		Version:     version.MajorMinor(),
	}
}

func (o *runOptions) Run(ctx context.Context, a *app) error {
	if err := o.loops.check(); err != nil {
		return err
	}
	f := store.NewFile(o.runDir)
	unlock, err := f.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	if err := a.keepLiterals(ctx, f, o.runDir); err != nil {
		return err
	}
	_, err = o.loops.run(ctx, a.runner(f, o.runDir, o.reuseResult, task.Deps{})) // the lock is held
	return err
}

// keepLiterals takes the literal secrets out of an experiment file written
// by hand or by the original Iter8 (chart.KeepTasks), with a warning: they
// go to experiment.secrets beside it, 0600, and the file is saved with
// references before anything runs. An unreadable file is left to the
// runner to report.
func (a *app) keepLiterals(ctx context.Context, f *store.File, dir string) error {
	exp, err := f.Load(ctx)
	if err != nil {
		return nil //nolint:nilerr // the runner loads it again and reports the error
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return inputs.Invalidf("--runDir %s: %v", dir, err)
	}
	kd := filepath.Join(abs, store.KeptDir)
	kept, err := chart.KeepTasks(len(exp.Spec), func(i int) (string, map[string]any) {
		if exp.Spec[i].Run != nil {
			return "", nil
		}
		return exp.Spec[i].Name(), exp.Spec[i].With
	}, kd)
	if err != nil || len(kept.Secrets) == 0 {
		return err
	}
	a.logger.Warn("secrets given as they are in "+store.FileName+": moved out of it, beside it, and redacted; give secrets as references instead, ${env:NAME} or ${file:/path}",
		"inputs", strings.Join(kept.Paths, ", "), "keptIn", kd+" (0600 files)")
	if err := store.AddKept(dir, kept.Secrets); err != nil {
		return err
	}
	return kept.Redact(f.Save(ctx, exp))
}

func newRunCmd(a *app) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the experiment in experiment.yaml",
		Long: `run executes the tasks of experiment.yaml in --runDir, one loop, and rewrites the file
after every task, so that iter8 report and iter8 assert can watch it progress.
With --reuseResult the stored result is kept and a further loop is added. With --loops the
experiment repeats, every --interval, each loop re-running the tasks and re-assessing, as a
Kubernetes CronJob would.`,
		Example: `  iter8 run
  iter8 run --runDir ./exp1 --reuseResult
  iter8 run --loops 10 --interval 1m      # ten loops, a minute apart
  iter8 run --loops 0 --interval 5m       # until stopped with Ctrl-C`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.Run(cmd.Context(), a)
		},
	}
	cmd.Flags().StringVar(&o.runDir, "runDir", ".", "directory holding experiment.yaml")
	cmd.Flags().BoolVar(&o.reuseResult, "reuseResult", false, "keep the stored result and add a loop")
	o.loops.addFlags(cmd.Flags())
	return cmd
}
