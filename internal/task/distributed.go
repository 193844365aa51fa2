package task

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/load"
	"iter8.tools/iter8/internal/metrics"
)

// Distributed load. A load task with replicas N > 1 runs in the N pods of
// an Indexed Job (iter8 k launch, runner=job; runner=cronjob makes one per
// loop). Pod 0 runs the experiment as
// ever, every task in order; pods 1..N-1 run only their shares of the load
// tasks (Follow). For each such task the pods meet in the experiment:
// each says it is ready, pod 0 sets a common start a moment after the last
// is ready, every pod sends the requests n of the one global schedule with
// n mod N = its index, and pods 1..N-1 record their measurements (HDR
// histograms, counters, health) in the experiment. Pod 0's task completes
// only when every part is in: it merges them exactly (load.Merge) and
// records the merge as one run, so assess judges the exact merge; one
// saturated pod makes the run saturated and its verdicts invalid.

// MaxReplicas bounds the replicas of a load task: the generator pods'
// parts must fit in the experiment's Secret (docs/kubernetes-scale.md).
const MaxReplicas = load.MaxShards

// Generators says which pod of an Indexed Job this process is, how many
// pods the Job has, and where they meet.
type Generators struct {
	// Index is this pod's index (JOB_COMPLETION_INDEX), Count the Job's
	// pods. In k launch's validation Count is MaxReplicas and Meeting nil.
	Index, Count int
	// Host names this pod in the results (its pod name); Job names the
	// Job (one loop: a CronJob makes one per loop).
	Host, Job string
	Meeting   Meeting
}

// Meeting is where the generator pods of a distributed load task meet: in
// Kubernetes, the experiment's Secret (k8s.Meeting).
type Meeting interface {
	// Loop waits until pod 0 of job has started a loop of the experiment
	// (with tasks tasks) and returns its number.
	Loop(ctx context.Context, job string, tasks int) (int, error)
	// Start says pod is ready for task in loop and returns the common
	// start, once pod 0 has set it after all pods were ready. run is false
	// when the task does not run in this loop after all (pod 0 skipped it,
	// or the experiment failed before it).
	Start(ctx context.Context, task, loop, pod, pods int) (start time.Time, run bool, err error)
	// Record stores a pod's part of task.
	Record(ctx context.Context, task, loop int, part experiment.LoadPart) error
	// Parts waits until want parts of task are recorded, removes the
	// task's meeting from the experiment and returns them.
	Parts(ctx context.Context, task, loop, want int) ([]experiment.LoadPart, error)
}

// distributable is a task that generator pods can share.
type distributable interface {
	replicas() int
	setGenerators(g *Generators)
	// follow runs a pod's share of the task (pods 1..N-1).
	follow(ctx context.Context, env *experiment.Env, loop int) error
}

// withGenerators checks the replicas of the load tasks built by b against
// the generator pods there are (none outside an Indexed Job) and gives the
// tasks the pods.
func withGenerators(b experiment.Builder, g *Generators) experiment.Builder {
	return func(with map[string]any) (experiment.Task, error) {
		t, err := b(with)
		if err != nil {
			return nil, err
		}
		d, ok := t.(distributable)
		if !ok || d.replicas() <= 1 {
			return t, nil
		}
		switch {
		case g == nil:
			return nil, &inputs.FieldError{Field: "replicas", Value: d.replicas(),
				Expected: "1 outside Kubernetes: more than one load generator pod needs Kubernetes (iter8 k launch with runner=job or cronjob runs them as an Indexed Job)"}
		case d.replicas() > g.Count:
			return nil, &inputs.FieldError{Field: "replicas", Value: d.replicas(),
				Expected: fmt.Sprintf("at most %d, the generator pods of this run", g.Count)}
		}
		d.setGenerators(g)
		return t, nil
	}
}

// checkReplicas validates the replicas input.
func checkReplicas(r *int) error {
	if r != nil && (*r < 1 || *r > MaxReplicas) {
		return &inputs.FieldError{Field: "replicas", Value: *r, Expected: fmt.Sprintf("a whole number of load generator pods from 1 to %d", MaxReplicas)}
	}
	return nil
}

func (t *loadTask[E, I]) replicas() int               { return max(t.plan.replicas, 1) }
func (t *loadTask[E, I]) setGenerators(g *Generators) { t.gens = g }

// share builds the target, meets the other pods and runs this pod's share
// of the load. run is false when the task does not run after all.
func (t *loadTask[E, I]) share(ctx context.Context, env *experiment.Env, loop int) (measured, *load.Report, bool, error) {
	g, pods := t.gens, t.replicas()
	opts := t.plan.options(env)
	// stop ends the run early when the first response says the target
	// cannot be reached (as in a one-pod run, see load)
	runCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	target, err := t.kind.target(runCtx, env, t.eps, opts, stop)
	if err != nil {
		return nil, nil, false, err
	}
	start, run, err := g.Meeting.Start(ctx, env.Index, loop, g.Index, pods)
	if err != nil || !run {
		target.Close()
		return nil, nil, false, err
	}
	opts.Shard = load.Shard{Index: g.Index, Count: pods}
	opts.StartAt = start
	env.Logger.Info(fmt.Sprintf("%s load: generator pod %d of %d", t.provider, g.Index, pods), "start", start.UTC().Format(time.RFC3339Nano))
	rep, err := runLoad(runCtx, env, target, opts)
	if err == nil && ctx.Err() == nil && runCtx.Err() != nil {
		err = context.Cause(runCtx)
	}
	if err != nil {
		target.Close()
		return nil, nil, false, err
	}
	return target, rep, true, nil
}

// runDistributed is pod 0's run of a task with replicas: its own share,
// then the merge of every pod's.
func (t *loadTask[E, I]) runDistributed(ctx context.Context, env *experiment.Env) error {
	g, pods := t.gens, t.replicas()
	loop := env.Experiment.Result.NumLoops
	target, rep, run, err := t.share(ctx, env, loop)
	if err != nil {
		return err
	}
	if !run {
		return fmt.Errorf("%s load: the generator pods did not start", t.provider)
	}
	defer target.Close()
	parts, err := g.Meeting.Parts(ctx, env.Index, loop, pods-1)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if p.Error != "" {
			return fmt.Errorf("%s load: generator pod %d (%s): %s", t.provider, p.Pod, p.Host, p.Error)
		}
	}
	if t.warm {
		env.Logger.Info("warmup finished; its results are discarded", t.kind.unit, rep.Total.Requests, "pods", pods)
		return ctx.Err()
	}
	mine, err := partOf(rep, g.Index, g.Host)
	if err != nil {
		return err
	}
	parts = append(parts, mine)
	slices.SortFunc(parts, func(a, b experiment.LoadPart) int { return a.Pod - b.Pod })
	reports := make([]*load.Report, len(parts))
	for i, p := range parts {
		if reports[i], err = reportOf(p); err != nil {
			return fmt.Errorf("%s load: the part of generator pod %d: %w", t.provider, p.Pod, err)
		}
	}
	if len(parts) != pods {
		return fmt.Errorf("%s load: %d parts from %d generator pods", t.provider, len(parts), pods)
	}
	merged := load.Merge(reports)
	if err := t.record(env, sharedTarget{target}, merged); err != nil {
		return err
	}
	podLoads := make([]experiment.PodLoad, len(parts))
	for i, p := range parts {
		podLoads[i] = podLoad(p, reports[i])
	}
	env.Experiment.Result.Insights.Load[t.provider].Pods = podLoads
	env.Logger.Info(t.provider+" load finished", t.kind.unit, merged.Total.Requests, "errors", merged.Total.Errors, "rate", round(merged.AchievedRate, 1), "pods", pods)
	return finishLoad(ctx, env, merged)
}

// follow runs pod g.Index's share and records it for pod 0.
func (t *loadTask[E, I]) follow(ctx context.Context, env *experiment.Env, loop int) error {
	g := t.gens
	target, rep, run, err := t.share(ctx, env, loop)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		// pod 0 fails the task with it: the experiment records why
		env.Logger.Error(t.provider+" load failed in this generator pod", "error", err.Error())
		return g.Meeting.Record(ctx, env.Index, loop, experiment.LoadPart{Pod: g.Index, Host: g.Host, Error: err.Error()})
	}
	if !run {
		env.Logger.Info(t.provider + " load: not run in this loop (pod 0 skipped it, or the experiment failed before it)")
		return nil
	}
	target.Close()
	env.Logger.Info(t.provider+" load share finished", t.kind.unit, rep.Total.Requests, "errors", rep.Total.Errors, "rate", round(rep.AchievedRate, 1), "saturated", rep.Saturated)
	part := experiment.LoadPart{Pod: g.Index, Host: g.Host}
	if !t.warm {
		if part, err = partOf(rep, g.Index, g.Host); err != nil {
			return err
		}
	}
	return g.Meeting.Record(ctx, env.Index, loop, part)
}

// sharedTarget records no protocol extras (gRPC per-message stream
// metrics): they are this pod's alone, not the merge.
type sharedTarget struct{ measured }

func (sharedTarget) record(*experiment.Insights, string, int, []float64, ...measured) error {
	return nil
}

// Follow runs the shares of generator pod deps.Generators.Index (1..N-1) of
// the experiment's distributed load tasks, in order, as pod 0 reaches them;
// the other tasks are pod 0's alone. It returns when this pod has no share
// left in the loop.
func Follow(ctx context.Context, st experiment.Store, deps Deps, dir string, log *slog.Logger) error {
	g := deps.Generators
	if g == nil || g.Meeting == nil || g.Index < 1 {
		return fmt.Errorf("following a distributed run: this is not one of pods 1..N-1 of an Indexed Job")
	}
	exp, err := st.Load(ctx)
	if err != nil {
		return err
	}
	steps, err := experiment.BuildFile(exp.Spec, Registry(deps))
	if err != nil {
		return err
	}
	loop, err := g.Meeting.Loop(ctx, g.Job, len(steps))
	if err != nil {
		return err
	}
	log.Info("generator pod waiting for its shares", "pod", g.Index, "pods", g.Count, "loop", loop)
	for i, s := range steps {
		d, ok := s.Task.(distributable)
		if !ok || d.replicas() <= g.Index {
			continue
		}
		env := &experiment.Env{Experiment: exp, Index: i, Logger: log.With("task", i+1, "name", s.Name), Dir: dir, Now: time.Now}
		if err := d.follow(ctx, env, loop); err != nil {
			return fmt.Errorf("task %d (%s): %w", i+1, s.Name, err)
		}
	}
	log.Info("generator pod done", "pod", g.Index, "loop", loop)
	return nil
}

// partOf turns a pod's report into its part of the experiment.
func partOf(rep *load.Report, pod int, host string) (experiment.LoadPart, error) {
	p := experiment.LoadPart{
		Pod: pod, Host: host,
		ElapsedNs: int64(rep.Elapsed), Sent: rep.Sent, Delayed: rep.Delayed, Unsent: rep.Unsent, UnsentHeld: rep.UnsentHeld, Ignored: rep.Ignored,
		IntendedRate: rep.IntendedRate, AchievedRate: rep.AchievedRate,
		Connections: rep.Connections, InitialConnections: rep.InitialConnections, MaxConnections: rep.MaxConnections,
		LatenessNs: int64(rep.Lateness), AllowedNs: int64(rep.AllowedLateness),
		ConnectionBound: rep.ConnectionBound, Warning: rep.Warning,
		Saturated: rep.Saturated, SaturationReason: rep.SaturationReason,
		CPUUtilization: rep.CPUUtilization, CPUWait: rep.CPUWait, Stopped: rep.Stopped,
		StartLagMs: round(rep.StartLag.Seconds()*1000, 3),
	}
	var err error
	if p.GeneratorLag, err = encodeHDR(rep.GeneratorLag); err != nil {
		return p, err
	}
	for _, st := range rep.Endpoints {
		ps := experiment.PartStats{Requests: st.Requests, Errors: st.Errors, TimedOut: st.TimedOut, Replayed: st.Replayed,
			Delayed: st.Delayed, Unsent: st.Unsent, UnsentHeld: st.UnsentHeld, Codes: st.Codes}
		if ps.Service, err = encodeHDR(st.Service); err != nil {
			return p, err
		}
		if rep.Open {
			if ps.Latency, err = encodeHDR(st.Latency); err != nil {
				return p, err
			}
		}
		p.Endpoints = append(p.Endpoints, ps)
	}
	return p, nil
}

// reportOf turns a pod's part back into its report.
func reportOf(p experiment.LoadPart) (*load.Report, error) {
	open := p.IntendedRate > 0
	rep := &load.Report{
		Open: open, Elapsed: time.Duration(p.ElapsedNs), Sent: p.Sent, Delayed: p.Delayed, Unsent: p.Unsent, UnsentHeld: p.UnsentHeld, Ignored: p.Ignored,
		IntendedRate: p.IntendedRate, AchievedRate: p.AchievedRate,
		Connections: p.Connections, InitialConnections: p.InitialConnections, MaxConnections: p.MaxConnections,
		Lateness: time.Duration(p.LatenessNs), AllowedLateness: time.Duration(p.AllowedNs),
		ConnectionBound: p.ConnectionBound, Warning: p.Warning,
		Saturated: p.Saturated, SaturationReason: p.SaturationReason,
		CPUUtilization: p.CPUUtilization, CPUWait: p.CPUWait, Stopped: p.Stopped,
		StartLag: time.Duration(p.StartLagMs * 1e6),
	}
	var err error
	if rep.GeneratorLag, err = decodeHDR(p.GeneratorLag); err != nil {
		return nil, err
	}
	for _, ps := range p.Endpoints {
		st := load.Stats{Requests: ps.Requests, Errors: ps.Errors, TimedOut: ps.TimedOut, Replayed: ps.Replayed,
			Delayed: ps.Delayed, Unsent: ps.Unsent, UnsentHeld: ps.UnsentHeld, Codes: map[string]int64{}}
		for k, n := range ps.Codes {
			st.Codes[k] = n
		}
		if st.Service, err = decodeHDR(ps.Service); err != nil {
			return nil, err
		}
		st.Latency = st.Service
		if open {
			if st.Latency, err = decodeHDR(ps.Latency); err != nil {
				return nil, err
			}
		}
		rep.Endpoints = append(rep.Endpoints, st)
	}
	if len(rep.Endpoints) > 0 {
		rep.Total = rep.Endpoints[0]
		if len(rep.Endpoints) > 1 {
			rep.Total = load.Merge([]*load.Report{rep}).Total
		}
	}
	return rep, nil
}

// podLoad is the summary of a pod's share kept for k report.
func podLoad(p experiment.LoadPart, rep *load.Report) experiment.PodLoad {
	pl := experiment.PodLoad{
		Pod: p.Pod, Host: p.Host, Requests: rep.Total.Requests, Errors: rep.Total.Errors,
		IntendedRate: round(p.IntendedRate, 3), AchievedRate: round(p.AchievedRate, 3),
		LatenessMs: round(float64(p.LatenessNs)/1e6, 3), StartLagMs: p.StartLagMs,
		CPUUtilization: round(p.CPUUtilization, 3), ConnectionBound: p.ConnectionBound,
		Saturated: p.Saturated, SaturationReason: p.SaturationReason,
	}
	if rep.Total.Latency != nil && rep.Total.Latency.Count() > 0 {
		pl.LatencyP99Ms = rep.Total.Latency.PercentileMs(99)
	}
	return pl
}

// encodeHDR encodes a histogram; an empty one is "".
func encodeHDR(h *metrics.HDR) (string, error) {
	if h == nil || h.Count() == 0 {
		return "", nil
	}
	return h.Encode()
}

// decodeHDR decodes a histogram written by encodeHDR.
func decodeHDR(s string) (*metrics.HDR, error) {
	if s == "" {
		return metrics.NewHDR(), nil
	}
	return metrics.DecodeHDR(s)
}
