package k8s

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"iter8.tools/iter8/internal/experiment"
)

// Meeting is where the load generator pods of an Indexed Job meet in the
// experiment's Secret (result.distributed): every write is a
// read-modify-write through Secret.Update, so concurrent pods never lose
// each other's updates, and waits re-read the Secret every Poll. Use a
// Secret of its own, not the runner's store, so that the runner's
// three-way merge sees these writes as another writer's. One pod's calls
// are sequential: a Meeting is not for concurrent use.
type Meeting struct {
	Store *Secret
	// Poll is how often waits re-read the Secret (default 500 ms).
	Poll time.Duration
	// Lead is how far after the last pod was ready the common start is
	// set (default 2 s): long enough for every pod to read it in time.
	Lead time.Duration
	// ReadyWait bounds pod 0's wait for the other pods to be ready
	// (default 5 minutes: pods scheduled late, images pulled).
	ReadyWait time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	peak int // the most experiment data seen, in bytes
}

// PeakBytes returns the most experiment data this pod saw in the Secret
// while the pods met (their parts in it before pod 0 merged them).
func (m *Meeting) PeakBytes() int { return m.peak }

func (m *Meeting) poll() time.Duration {
	if m.Poll > 0 {
		return m.Poll
	}
	return 500 * time.Millisecond
}

func (m *Meeting) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// update applies fn to the experiment through the Secret's optimistic
// concurrency, going on through any number of conflicts until ctx ends:
// many pods may write at once.
func (m *Meeting) update(ctx context.Context, fn func(*experiment.Experiment) error) error {
	for {
		_, err := m.Store.Update(ctx, fn)
		m.peak = max(m.peak, m.Store.Size())
		if err == nil || !apierrors.IsConflict(err) || ctx.Err() != nil {
			return err
		}
	}
}

// wait re-reads the experiment every Poll until done says so.
func (m *Meeting) wait(ctx context.Context, what string, limit time.Duration, done func(*experiment.Experiment) (bool, error)) error {
	var deadline time.Time
	if limit > 0 {
		deadline = m.now().Add(limit)
	}
	t := time.NewTicker(m.poll())
	defer t.Stop()
	for {
		exp, err := m.Store.Load(ctx)
		if err != nil {
			return err
		}
		m.peak = max(m.peak, m.Store.Size())
		if ok, err := done(exp); ok || err != nil {
			return err
		}
		if !deadline.IsZero() && m.now().After(deadline) {
			return fmt.Errorf("waiting for %s: not within %s", what, limit)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// record returns the meeting of task in loop, adding it when add is set.
func record(exp *experiment.Experiment, task, loop, pods int, add bool) (*experiment.Distributed, error) {
	res := exp.Result
	if res == nil {
		return nil, errors.New("the experiment has no result: pod 0 has not started it")
	}
	if d := res.DistributedTask(task, loop); d != nil || !add {
		return d, nil
	}
	res.Distributed = append(res.Distributed, experiment.Distributed{Task: task, Loop: loop, Pods: pods})
	return &res.Distributed[len(res.Distributed)-1], nil
}

// Loop waits until pod 0 of job has started a loop with tasks tasks
// (result.job names the Job of the latest loop: a CronJob's earlier loops
// are not this pod's).
func (m *Meeting) Loop(ctx context.Context, job string, tasks int) (int, error) {
	var loop int
	err := m.wait(ctx, "pod 0 to start the experiment", 0, func(exp *experiment.Experiment) (bool, error) {
		if r := exp.Result; r != nil && r.Job == job && r.NumLoops > 0 && len(r.Tasks) == tasks {
			loop = r.NumLoops
			return true, nil
		}
		return false, nil
	})
	return loop, err
}

// Start says pod is ready and waits for the common start: pod 0 waits for
// every pod, then sets the start Lead ahead; the others wait for it, or
// learn that the task does not run in this loop.
func (m *Meeting) Start(ctx context.Context, task, loop, pod, pods int) (time.Time, bool, error) {
	err := m.update(ctx, func(exp *experiment.Experiment) error {
		if pod == 0 && exp.Result != nil {
			// meetings of earlier loops that failed before they merged
			exp.Result.Distributed = slices.DeleteFunc(exp.Result.Distributed, func(d experiment.Distributed) bool { return d.Loop != loop })
		}
		d, err := record(exp, task, loop, pods, true)
		if err != nil {
			return err
		}
		if !slices.Contains(d.Ready, pod) {
			d.Ready = append(d.Ready, pod)
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, err
	}
	if pod == 0 {
		limit := m.ReadyWait
		if limit <= 0 {
			limit = 5 * time.Minute
		}
		var ready []int
		err := m.wait(ctx, fmt.Sprintf("the %d load generator pods to be ready", pods), limit, func(exp *experiment.Experiment) (bool, error) {
			d, err := record(exp, task, loop, pods, false)
			if d == nil || err != nil {
				return false, err
			}
			ready = d.Ready
			for _, p := range d.Parts {
				if p.Error != "" { // a pod that could not even get ready
					return true, fmt.Errorf("generator pod %d (%s): %s", p.Pod, p.Host, p.Error)
				}
			}
			return len(d.Ready) >= pods, nil
		})
		if err != nil {
			return time.Time{}, false, fmt.Errorf("%w (ready: pods %v; k log -g %s shows every pod)", err, ready, m.Store.Name)
		}
		lead := m.Lead
		if lead <= 0 {
			lead = 2 * time.Second
		}
		start := m.now().Add(lead).UTC()
		err = m.update(ctx, func(exp *experiment.Experiment) error {
			d, err := record(exp, task, loop, pods, true)
			if err == nil {
				d.Start = &start
			}
			return err
		})
		return start, err == nil, err
	}
	var (
		start time.Time
		run   bool
	)
	err = m.wait(ctx, "pod 0 to set the start", 0, func(exp *experiment.Experiment) (bool, error) {
		res := exp.Result
		if res == nil || res.NumLoops != loop {
			return true, nil // another loop
		}
		if d := res.DistributedTask(task, loop); d != nil && d.Start != nil {
			start, run = *d.Start, true
			return true, nil
		}
		// result.failure is sticky over a CronJob's loops: this loop ended
		// when one of its tasks up to this one failed.
		for j := 0; j <= task && j < len(res.Tasks); j++ {
			if res.Tasks[j].State == experiment.Failed {
				return true, nil
			}
		}
		if task < len(res.Tasks) {
			switch res.Tasks[task].State {
			case experiment.Skipped, experiment.Completed:
				return true, nil
			}
		}
		return false, nil
	})
	return start, run, err
}

// Record stores a pod's part of task, replacing an earlier one of the
// same pod.
func (m *Meeting) Record(ctx context.Context, task, loop int, part experiment.LoadPart) error {
	return m.update(ctx, func(exp *experiment.Experiment) error {
		d, err := record(exp, task, loop, 0, true)
		if err != nil {
			return err
		}
		d.Parts = slices.DeleteFunc(d.Parts, func(p experiment.LoadPart) bool { return p.Pod == part.Pod })
		d.Parts = append(d.Parts, part)
		return nil
	})
}

// Parts waits until want parts of task are in, then removes the task's
// meeting from the experiment (the merge keeps what the report shows) and
// returns them.
func (m *Meeting) Parts(ctx context.Context, task, loop, want int) ([]experiment.LoadPart, error) {
	if want == 0 {
		return nil, nil
	}
	err := m.wait(ctx, fmt.Sprintf("the parts of %d load generator pods", want), 0, func(exp *experiment.Experiment) (bool, error) {
		d, err := record(exp, task, loop, 0, false)
		return d != nil && len(d.Parts) >= want, err
	})
	if err != nil {
		return nil, err
	}
	var parts []experiment.LoadPart
	err = m.update(ctx, func(exp *experiment.Experiment) error {
		d, err := record(exp, task, loop, 0, false)
		if err != nil || d == nil {
			return err
		}
		parts = slices.Clone(d.Parts)
		exp.Result.Distributed = slices.DeleteFunc(exp.Result.Distributed, func(x experiment.Distributed) bool { return x.Task == task && x.Loop == loop })
		return nil
	})
	return parts, err
}
