package experiment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"iter8.tools/iter8/internal/exitcode"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/secret"
)

// Store loads and saves an experiment: a file, a Kubernetes Secret, or memory.
type Store interface {
	Load(ctx context.Context) (*Experiment, error)
	Save(ctx context.Context, exp *Experiment) error
}

// Locker locks an experiment against another process running it.
type Locker interface {
	Lock() (unlock func(), err error)
}

// Runner executes an experiment: one loop over its tasks per Run.
type Runner struct {
	Store    Store
	Registry Registry
	Logger   *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Dir is the run directory passed to tasks.
	Dir string
	// Progress receives live progress; nil disables it.
	Progress io.Writer
	// ReuseResult keeps the stored result (a further loop of a multi-loop
	// experiment) instead of starting afresh.
	ReuseResult bool
	// Version is written to result.iter8Version.
	Version string
	// Build, when set, is written to result.iter8Build.
	Build string
	// Job, when set, is written to result.job: the Kubernetes Job whose
	// pod 0 runs the loop, so that the other pods of a distributed run
	// know the loop is theirs (see task.Follow).
	Job string
	// Locker, when set, is locked for the whole of Run or Loops so that no
	// other process runs the experiment meanwhile. Leave it nil when the
	// caller already holds the lock, or the store needs none.
	Locker Locker
}

// lock takes the Locker's lock, if there is one.
func (r *Runner) lock() (unlock func(), err error) {
	if r.Locker == nil {
		return func() {}, nil
	}
	return r.Locker.Lock()
}

// Run loads the experiment, validates every task, and runs one loop, saving
// after every task. A failing or cancelled task marks the experiment failed
// with its reason and keeps everything recorded so far; the returned error
// then matches ErrFailed. Invalid input matches ErrInvalid and changes
// nothing.
func (r *Runner) Run(ctx context.Context) (*Experiment, error) {
	unlock, err := r.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	now := r.Now
	if now == nil {
		now = time.Now
	}
	return r.loop(ctx, r.ReuseResult, now())
}

// loop runs one loop that started at loopStart (recorded in the history,
// so that loops started an interval apart are recorded so); reuse keeps the
// stored result.
func (r *Runner) loop(ctx context.Context, reuse bool, loopStart time.Time) (*Experiment, error) {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	log := r.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	exp, err := r.Store.Load(ctx)
	if err != nil {
		return nil, err
	}
	steps, err := BuildFile(exp.Spec, r.Registry)
	if err != nil {
		return exp, err
	}
	exp.Spec = Specs(steps) // the stored spec shows the defaults that run

	res := exp.Result
	if !reuse || res == nil {
		res = NewResult(loopStart, r.Version)
		exp.Result = res
	}
	if reuse {
		if res.Aborted {
			// An abort stops the experiment for good: a CronJob's next
			// loop (iter8 run --reuseResult, k run) runs nothing.
			return exp, &FailedError{Abort: true, Reason: fmt.Sprintf("the experiment was aborted in loop %d (%s) and runs no more loops; run it without --reuseResult to start afresh", res.NumLoops, res.FailureReason)}
		}
		if why := res.endInterrupted(steps); why != "" {
			log.Warn(why)
		}
	}
	res.Iter8Version = r.Version
	if r.Job != "" {
		res.Job = r.Job
	}
	if r.Build != "" {
		res.Iter8Build = r.Build
	}
	res.NumLoops++
	res.NumCompletedTasks = 0
	res.LoopStartTime = &loopStart
	res.startLoop(steps)
	res.Tasks = make([]TaskStatus, len(steps))
	for i, s := range steps {
		res.Tasks[i] = TaskStatus{Name: s.Name, State: Pending, Warnings: s.Warnings}
		for _, w := range s.Warnings {
			log.Warn(fmt.Sprintf("task %d: %s: %s", i+1, s.Name, w))
		}
	}
	if err := r.Store.Save(ctx, exp); err != nil {
		return exp, err
	}
	log.Info("experiment started", "loop", res.NumLoops, "tasks", len(steps))

	for i, s := range steps {
		env := &Env{Experiment: exp, Index: i, SLOIndex: sloIndex(steps, i), Logger: log.With("task", i+1, "name", s.Name), Dir: r.Dir, Progress: r.Progress, Now: now}
		st := &res.Tasks[i]
		if s.If != nil {
			ok, err := s.If.Eval(exp)
			if err != nil {
				return exp, r.fail(ctx, exp, steps, loopStart, i, s.Name, err, 0)
			}
			if !ok {
				log.Info(fmt.Sprintf("task %d: %s: skipped", i+1, s.Name), "if", s.If.String())
				st.State = Skipped
				res.NumCompletedTasks++
				res.notJudged(steps, i, i, fmt.Sprintf("skipped: task %d (%s) did not run in loop %d because its if: condition %q was false", i+1, s.Name, res.NumLoops, s.If.String()))
				if err := r.Store.Save(ctx, exp); err != nil {
					return exp, err
				}
				continue
			}
		}
		log.Info(fmt.Sprintf("task %d: %s: started", i+1, s.Name))
		st.State = Running
		if err := r.Store.Save(ctx, exp); err != nil {
			return exp, err
		}
		start := now()
		err := s.Task.Run(ctx, env)
		took := now().Sub(start)
		if err == nil && ctx.Err() != nil {
			err = context.Cause(ctx)
		}
		if err != nil {
			return exp, r.fail(ctx, exp, steps, loopStart, i, s.Name, err, took)
		}
		st.State, st.DurationSeconds = Completed, took.Seconds()
		res.NumCompletedTasks++
		if err := r.Store.Save(ctx, exp); err != nil {
			return exp, err
		}
		log.Info(fmt.Sprintf("task %d: %s: completed", i+1, s.Name), "seconds", round3(took.Seconds()))
	}
	res.recordLoop(loopStart, false)
	if err := r.Store.Save(ctx, exp); err != nil {
		return exp, err
	}
	log.Info("experiment completed", "loop", res.NumLoops)
	return exp, nil
}

// Loops runs the experiment loops times (0: until ctx is cancelled), starting
// a loop every interval (at once when a loop took longer). The first loop
// honours ReuseResult; later loops reuse the result, so each adds to
// numLoops and to the history. A failed loop does not stop later ones, as a
// CronJob would go on; an abort (ErrAbort) or cancellation does. The error
// is the first failure, or the abort.
func (r *Runner) Loops(ctx context.Context, loops int, interval time.Duration) (*Experiment, error) {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	unlock, err := r.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	var (
		exp      *Experiment
		firstErr error
	)
	for i := 0; loops == 0 || i < loops; i++ {
		start := now()
		var err error
		exp, err = r.loop(ctx, r.ReuseResult || i > 0, start)
		switch {
		case err == nil:
		case errors.Is(err, inputs.ErrInvalid), errors.Is(err, ErrAbort), ctx.Err() != nil:
			return exp, err
		case errors.Is(err, ErrFailed):
			if firstErr == nil {
				firstErr = err
			}
		default:
			return exp, err
		}
		if loops != 0 && i == loops-1 {
			break
		}
		if wait := interval - now().Sub(start); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return exp, firstErr
			case <-t.C:
			}
		}
	}
	return exp, firstErr
}

// fail records a task failure and saves, even when ctx was cancelled.
func (r *Runner) fail(ctx context.Context, exp *Experiment, steps []Step, loopStart time.Time, i int, name string, err error, took time.Duration) error {
	res := exp.Result
	reason := fmt.Sprintf("task %d (%s) failed: %v", i+1, name, err)
	if ctx.Err() != nil {
		reason = fmt.Sprintf("task %d (%s) was interrupted: %v", i+1, name, context.Cause(ctx))
	}
	res.notJudged(steps, i, len(steps), fmt.Sprintf("not judged in loop %d: %s", res.NumLoops, reason))
	res.Failure = true
	res.FailureReason = reason
	res.recordLoop(loopStart, true)
	res.Tasks[i].State, res.Tasks[i].Error, res.Tasks[i].DurationSeconds = Failed, err.Error(), took.Seconds()
	if r.Logger != nil {
		r.Logger.Error(fmt.Sprintf("task %d: %s: failure", i+1, name), "error", err.Error())
	}
	abort := errors.Is(err, ErrAbort)
	if abort {
		res.Aborted = true
	}
	fe := &FailedError{Reason: reason, Abort: abort, Refused: errors.Is(err, secret.ErrRefused)}
	if serr := r.Store.Save(context.WithoutCancel(ctx), exp); serr != nil {
		return errors.Join(fe, serr)
	}
	return fe
}

// FailedError is returned when a task failed; it matches ErrFailed, and
// ErrAbort when the task asked to stop the experiment.
type FailedError struct {
	Reason string
	Abort  bool
	// Refused says the task failed because content it fetched or rendered
	// used a secret reference it may not (secret.ErrRefused): bad input.
	Refused bool
}

func (e *FailedError) Error() string { return "experiment failed: " + e.Reason }

// Is makes FailedError match ErrFailed (and ErrAbort for an abort).
func (e *FailedError) Is(target error) bool {
	return target == ErrFailed || (e.Abort && target == ErrAbort)
}

// ExitCode is exitcode.Failed, or exitcode.Usage when the task refused a
// secret reference (the refusal is bad input, as the issue that named the
// value and its source asks).
func (e *FailedError) ExitCode() exitcode.Code {
	if e.Refused {
		return exitcode.Usage
	}
	return exitcode.Failed
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
