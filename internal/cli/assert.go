package cli

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/store"
	"iter8.tools/iter8/internal/task"
)

// assertOptions check conditions on a stored experiment.
type assertOptions struct {
	conditions []string
	timeout    time.Duration
	interval   time.Duration
}

// Run checks the conditions, re-reading the experiment every interval until
// they hold, the experiment has finished its loop (completed or failed), or
// the timeout has passed.
func (o *assertOptions) Run(ctx context.Context, a *app, st experiment.Store) error {
	if o.timeout < 0 {
		return usagef("--timeout %s is negative: expected a duration such as 120s (0 checks once)", o.timeout)
	}
	conds, err := experiment.ParseAssertions(o.conditions)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(o.timeout)
	for {
		exp, err := load(ctx, a, st)
		if err != nil {
			return err
		}
		failures := exp.Check(conds)
		if slices.Contains(conds, experiment.AssertSLOs) {
			failures = append(failures, declared(exp)...)
		}
		// Only a loop that has ended can leave an SLO unjudged for good;
		// until then, --timeout waits for the judgement.
		finished := exp.Finished()
		if len(failures) == 0 || finished || o.timeout <= 0 || !time.Now().Before(deadline) {
			logNotes(a, exp, conds)
		}
		if len(failures) == 0 {
			for _, c := range conds {
				a.logger.Info(map[experiment.Assertion]string{
					experiment.AssertCompleted: "experiment completed",
					experiment.AssertNoFailure: "experiment has no failure",
					experiment.AssertSLOs:      "SLOs are satisfied",
				}[c])
			}
			a.logger.Info("all conditions were satisfied")
			return nil
		}
		if finished || o.timeout <= 0 || !time.Now().Before(deadline) {
			for _, f := range failures {
				a.logger.Error("condition does not hold: " + f)
			}
			return fmt.Errorf("%w: %d unmet (see above)", ErrAssert, len(failures))
		}
		a.logger.Info("waiting for the experiment", "unmet", len(failures), "timeLeft", time.Until(deadline).Round(time.Second).String())
		// the next check, at the deadline at the latest (a last look then)
		wait := time.NewTimer(min(o.interval, time.Until(deadline)))
		select {
		case <-ctx.Done():
			wait.Stop()
			return context.Cause(ctx)
		case <-wait.C:
		}
	}
}

// load loads the experiment from st. A loop that began and has not ended,
// in a file no run holds (store.File.LoadIdle), was stopped with its
// process (killed, out of memory): the copy checked records it as
// interrupted, as the next run on the file would, so that it has failed
// and finished rather than look like a run in progress.
func load(ctx context.Context, a *app, st experiment.Store) (*experiment.Experiment, error) {
	exp, err := st.Load(ctx)
	f, ok := st.(*store.File)
	if err != nil || !ok || !exp.Started() || exp.Finished() {
		return exp, err
	}
	exp, idle, err := f.LoadIdle(ctx)
	if err != nil || !idle {
		return exp, err
	}
	if steps, err := specSteps(exp); err == nil {
		if why := exp.EndInterrupted(steps); why != "" {
			a.logger.Warn("no iter8 run holds the experiment: " + why)
		}
	}
	return exp, nil
}

// declared checks that the latest loop judged the SLOs the experiment's
// spec declares now (see Experiment.CheckDeclared): the spec may have been
// edited, or made invalid, after that loop ran.
func declared(exp *experiment.Experiment) []string {
	steps, err := specSteps(exp)
	if err != nil {
		return []string{fmt.Sprintf("slos: the experiment's spec is not valid, so the SLOs it declares cannot be checked: %v", err)}
	}
	return exp.CheckDeclared(steps)
}

// specSteps builds the tasks of the experiment's spec.
func specSteps(exp *experiment.Experiment) ([]experiment.Step, error) {
	// the spec was validated where it ran: load tasks with generator pods
	// (replicas) are valid here too, as in k launch's validation
	deps := task.Deps{Generators: &task.Generators{Count: task.MaxReplicas}}
	return experiment.BuildFile(exp.Spec, task.Registry(deps))
}

// logNotes warns about SLOs whose missing data is ignored, so an assert that
// passes still says what it could not check.
func logNotes(a *app, exp *experiment.Experiment, conds []experiment.Assertion) {
	for _, c := range conds {
		if c == experiment.AssertSLOs {
			for _, n := range exp.Notes() {
				a.logger.Warn(n)
			}
			return
		}
	}
}

func newAssertCmd(a *app) *cobra.Command {
	o := &assertOptions{}
	var runDir string
	cmd := &cobra.Command{
		Use:   "assert",
		Short: "Check that an experiment completed without failure and satisfied its SLOs",
		Long: `assert checks conditions on the experiment in --runDir and exits 0 when all hold and 1
when any does not, naming each condition (and each SLO, with its value and limit) that fails.
Conditions: completed (every task of the latest loop completed), nofailure (no task failed),
slos (every version satisfies every SLO). With --timeout it re-checks every 3s until the
conditions hold, the experiment finishes, or the timeout passes. A loop whose run was killed
(no iter8 process holds the experiment) is judged interrupted, as the next run would record it.`,
		Example: `  iter8 assert -c completed -c nofailure -c slos
  iter8 assert -c completed,nofailure,slos --timeout 120s`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.interval <= 0 {
				return usagef("--interval must be positive")
			}
			return o.Run(cmd.Context(), a, store.NewFile(runDir))
		},
	}
	cmd.Flags().StringSliceVarP(&o.conditions, "condition", "c", nil, "condition to check: completed, nofailure or slos (repeatable or comma-separated)")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 0, "keep checking until this much time has passed (0 checks once)")
	cmd.Flags().DurationVar(&o.interval, "interval", 3*time.Second, "time between checks when waiting")
	cmd.Flags().StringVar(&runDir, "runDir", ".", "directory holding experiment.yaml")
	_ = cmd.Flags().MarkHidden("interval")
	return cmd
}
