package task

import (
	"context"
	"slices"
	"strings"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/load"
	"iter8.tools/iter8/internal/metrics"
)

// Endpoints without weights run in turn, as in the original (its http and
// grpc tasks ran fortio or ghz once per endpoint, one after another): each
// endpoint is its own run, with its own budget, target, generator health
// and metrics (<task>-<id>/...), and the task's metrics (<task>/...) are the
// exact merge of those runs. Endpoints run in the order of their names.

// turn is one endpoint's run.
type turn struct {
	id     string
	own    budget
	rep    *load.Report
	target measured
}

// runInTurn runs each endpoint in turn and records them. An abort
// condition or a cancellation ends the task after the endpoint it stopped;
// what ran is recorded.
func (t *loadTask[E, I]) runInTurn(ctx context.Context, env *experiment.Env) error {
	var turns []turn
	defer func() {
		for _, tn := range turns {
			tn.target.Close()
		}
	}()
	for i, e := range t.eps {
		provider := t.provider + "-" + e.id
		opts := t.plan.turn(i, e.own, provider).options(env)
		rep, target, err := t.load(ctx, env, t.eps[i:i+1], opts)
		if err != nil {
			return err
		}
		turns = append(turns, turn{id: e.id, own: e.own, rep: rep, target: target})
		env.Logger.Info(provider+" load finished", t.kind.unit, rep.Total.Requests, "errors", rep.Total.Errors, "rate", round(rep.AchievedRate, 1))
		if rep.Stopped != "" || ctx.Err() != nil {
			break
		}
	}
	rep := joinTurns(turns)
	if t.warm {
		env.Logger.Info("warmup finished; its results are discarded", t.kind.unit, rep.Total.Requests)
		return ctx.Err()
	}
	if err := t.recordTurns(env, turns, rep); err != nil {
		return err
	}
	env.Logger.Info(t.provider+" load finished", "endpoints", len(turns), t.kind.unit, rep.Total.Requests, "errors", rep.Total.Errors)
	return finishLoad(ctx, env, rep)
}

// turn returns the plan of endpoint i's run: the endpoint's own budget,
// the rest inherited. A count or a duration of the endpoint's replaces both
// of the task's.
func (p loadPlan) turn(i int, own budget, name string) loadPlan {
	q := p
	q.name, q.weights = name, nil
	if own.requests != nil || own.duration != nil {
		q.requests, q.duration = own.requests, own.duration
	}
	if own.rate != nil {
		q.rate = *own.rate
	}
	if own.connections != nil {
		q.connections = *own.connections
	}
	if own.timeout != nil {
		q.timeout = own.timeout.Duration
	}
	if isError := p.isError; isError != nil {
		q.isError = func(_ int, o load.Outcome) bool { return isError(i, o) }
	}
	if p.abort != nil {
		// each run is watched from its start
		q.abort = &abortWatch{conds: slices.Clone(p.abort.conds)}
	}
	return q
}

// recordTurns stores each endpoint's run as <task>-<id> and their merge rep
// as <task>.
func (t *loadTask[E, I]) recordTurns(env *experiment.Env, turns []turn, rep *load.Report) error {
	insights, err := env.Experiment.Result.InitInsights(1, nil)
	if err != nil {
		return err
	}
	var protocols []string
	modes := map[bool]bool{}
	for _, tn := range turns {
		pcts := t.pcts
		if own := tn.own.percentiles; len(own) > 0 {
			pcts = mergePercentiles(own)
		}
		if err := t.recordOne(insights, t.provider+"-"+tn.id, tn.target, 0, tn.rep.Total, tn.rep, 1, pcts); err != nil {
			return err
		}
		protocols = append(protocols, tn.target.protocol(0))
		modes[tn.rep.Open] = true
	}
	if len(turns) == 0 {
		return nil
	}
	more := make([]measured, 0, len(turns)-1)
	for _, tn := range turns[1:] {
		more = append(more, tn.target)
	}
	all := sameProtocol{turns[0].target, sameOr(protocols, "mixed")}
	if err := t.recordOne(insights, t.provider, all, -1, rep.Total, rep, 1, t.pcts, more...); err != nil {
		return err
	}
	if len(modes) > 1 {
		insights.Load[t.provider].Mode = "mixed"
	}
	return nil
}

// sameProtocol is a target that names one protocol for all its endpoints.
type sameProtocol struct {
	measured
	name string
}

func (s sameProtocol) protocol(int) string { return s.name }

// sameOr returns the one value of vs, or other when they differ.
func sameOr(vs []string, other string) string {
	for _, v := range vs[1:] {
		if v != vs[0] {
			return other
		}
	}
	return vs[0]
}

// joinTurns merges runs made one after another into one report: the
// endpoints' stats are the runs' totals, the total their exact merge, times
// and counts add up, and any run's health problem is the whole's (named by
// endpoint), so that verdicts on the merge are invalid when any run was.
// The intended and achieved rates are those of the whole time: requests
// over the time they were scheduled for (open loop) or took (closed).
func joinTurns(turns []turn) *load.Report {
	out := &load.Report{Open: len(turns) > 0, GeneratorLag: metrics.NewHDR()}
	var scheduled, achievedTime, cpu, wait float64
	var planned int64
	var reasons, warnings, stopped []string
	for _, tn := range turns {
		r := tn.rep
		out.Endpoints = append(out.Endpoints, r.Total)
		out.Open = out.Open && r.Open
		out.Elapsed += r.Elapsed
		out.Sent += r.Sent
		out.Delayed += r.Delayed
		out.Unsent += r.Unsent
		out.UnsentHeld += r.UnsentHeld
		out.Ignored += r.Ignored
		out.Connections = max(out.Connections, r.Connections)
		out.InitialConnections = max(out.InitialConnections, r.InitialConnections)
		out.MaxConnections = max(out.MaxConnections, r.MaxConnections)
		if r.GeneratorLag != nil {
			out.GeneratorLag.Merge(r.GeneratorLag)
		}
		out.GeneratorLateness = max(out.GeneratorLateness, r.GeneratorLateness)
		if r.Lateness-r.AllowedLateness > out.Lateness-out.AllowedLateness {
			out.Lateness, out.AllowedLateness = r.Lateness, r.AllowedLateness
		}
		cpu += r.CPUUtilization * r.Elapsed.Seconds()
		wait += r.CPUWait * r.Elapsed.Seconds()
		if r.IntendedRate > 0 {
			n := r.Sent + r.Unsent
			planned += n
			scheduled += float64(n) / r.IntendedRate
		}
		if r.AchievedRate > 0 {
			achievedTime += float64(r.Sent) / r.AchievedRate
		}
		if r.Saturated {
			out.Saturated = true
			reasons = append(reasons, "endpoint "+tn.id+": "+r.SaturationReason)
		}
		if r.ConnectionBound {
			out.ConnectionBound = true
			warnings = append(warnings, "endpoint "+tn.id+": "+r.Warning)
		}
		if r.Stopped != "" {
			stopped = append(stopped, "endpoint "+tn.id+": "+r.Stopped)
		}
	}
	out.Total = joinStats(out.Endpoints)
	out.SaturationReason = strings.Join(reasons, "; ")
	out.Warning = strings.Join(warnings, "; ")
	out.Stopped = strings.Join(stopped, "; ")
	if s := out.Elapsed.Seconds(); s > 0 {
		out.CPUUtilization = cpu / s
		out.CPUWait = wait / s
	}
	switch {
	case out.Open && scheduled > 0:
		out.IntendedRate = float64(planned) / scheduled
		if achievedTime > 0 {
			out.AchievedRate = float64(out.Sent) / achievedTime
		}
	case out.Elapsed > 0:
		out.AchievedRate = float64(out.Total.Requests) / out.Elapsed.Seconds()
	}
	return out
}

// joinStats merges the stats of runs exactly. A closed-loop run's latency
// is its service time; the merged latency takes each run's latency, so
// that it stays the service time only when every run was closed.
func joinStats(all []load.Stats) load.Stats {
	t := load.Stats{Latency: metrics.NewHDR(), Service: metrics.NewHDR(), Codes: map[string]int64{}}
	same := true
	for _, s := range all {
		t.AddCounts(s)
		t.Latency.Merge(s.Latency)
		t.Service.Merge(s.Service)
		same = same && s.Latency == s.Service
	}
	if same {
		t.Latency = t.Service
	}
	return t
}
