package task

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"iter8.tools/iter8/internal/demo"
	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/load"
	"iter8.tools/iter8/internal/metrics"
)

// Replicas above 1 need the generator pods of an Indexed Job: elsewhere
// they are invalid input that says so.
func TestReplicasNeedAnIndexedJob(t *testing.T) {
	t.Parallel()
	with := func(r int) map[string]any { return map[string]any{"url": "http://127.0.0.1:1/", "replicas": r} }
	for _, tt := range []struct {
		name string
		deps Deps
		r    int
		want string
	}{
		{"locally", Deps{}, 4, "expected 1 outside Kubernetes: more than one load generator pod needs Kubernetes (iter8 k launch with runner=job"},
		{"more than the pods", Deps{Generators: &Generators{Count: 2}}, 4, "expected at most 2, the generator pods of this run"},
		{"zero", Deps{}, 0, "a whole number of load generator pods from 1 to 100"},
		{"too many", Deps{Generators: &Generators{Count: MaxReplicas}}, MaxReplicas + 1, "from 1 to 100"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for _, name := range []string{"http", "grpc"} {
				w := with(tt.r)
				if name == "grpc" {
					w = map[string]any{"host": "127.0.0.1:1", "call": "a.B.C", "replicas": tt.r}
				}
				_, err := Registry(tt.deps)[name](w)
				if !errors.Is(err, inputs.ErrInvalid) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "replicas") {
					t.Errorf("%s: %v, want invalid replicas: %q", name, err, tt.want)
				}
			}
		})
	}
	if _, err := Registry(Deps{})["http"](with(1)); err != nil {
		t.Errorf("replicas 1 locally: %v", err)
	}
	if _, err := Registry(Deps{Generators: &Generators{Count: 4}})["http"](with(4)); err != nil {
		t.Errorf("replicas 4 in a Job of 4 pods: %v", err)
	}
	// endpoints in turn each run their own schedule: the pods cannot share it
	inTurn := map[string]any{"replicas": 2, "endpoints": map[string]any{"a": map[string]any{"url": "http://127.0.0.1:1/a"}, "b": map[string]any{"url": "http://127.0.0.1:1/b"}}}
	if _, err := Registry(Deps{Generators: &Generators{Count: 2}})["http"](inTurn); !errors.Is(err, inputs.ErrInvalid) || !strings.Contains(err.Error(), "1 when endpoints run in turn") {
		t.Errorf("replicas with endpoints in turn: %v, want invalid replicas", err)
	}
}

// memMeeting is an in-memory meeting of generator pods, for the rules that
// do not need a Secret (k8s tests meet in a real one).
type memMeeting struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	ready   int
	start   time.Time
	skip    bool
	parts   []experiment.LoadPart
}

func newMemMeeting() *memMeeting { return &memMeeting{changed: make(chan struct{})} }

func (m *memMeeting) notify() { close(m.changed); m.changed = make(chan struct{}) }

// await waits, without polling, until cond holds.
func (m *memMeeting) await(ctx context.Context, cond func() bool) error {
	for {
		m.mu.Lock()
		ok, ch := cond(), m.changed
		m.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (m *memMeeting) Loop(context.Context, string, int) (int, error) { return 1, nil }

func (m *memMeeting) Start(ctx context.Context, _, _, pod, pods int) (time.Time, bool, error) {
	m.mu.Lock()
	m.ready++
	m.notify()
	m.mu.Unlock()
	if pod == 0 {
		err := m.await(ctx, func() bool { return m.ready >= pods })
		m.mu.Lock()
		m.start = time.Now().Add(20 * time.Millisecond)
		m.notify()
		m.mu.Unlock()
		return m.start, err == nil, err
	}
	err := m.await(ctx, func() bool { return m.skip || !m.start.IsZero() })
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.start, !m.skip, err
}

func (m *memMeeting) Record(_ context.Context, _, _ int, p experiment.LoadPart) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.parts = append(m.parts, p)
	m.notify()
	return nil
}

func (m *memMeeting) Parts(ctx context.Context, _, _, want int) ([]experiment.LoadPart, error) {
	err := m.await(ctx, func() bool { return len(m.parts) >= want })
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.parts, err
}

// runPods runs an http task with replicas in pods goroutines: pod 0 as the
// runner runs it, the others as Follow would.
func runPods(t *testing.T, m Meeting, pods int, with map[string]any) (*experiment.Experiment, []error, error) {
	t.Helper()
	return runPodsOf(t, "http", m, pods, with)
}

// runPodsOf runs the named load task with replicas in pods goroutines.
func runPodsOf(t *testing.T, name string, m Meeting, pods int, with map[string]any) (*experiment.Experiment, []error, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make([]error, pods)
	var wg sync.WaitGroup
	exps := make([]*experiment.Experiment, pods)
	for i := range pods {
		tk, err := Registry(Deps{Generators: &Generators{Index: i, Count: pods, Host: "p", Meeting: m}})[name](with)
		if err != nil {
			t.Fatal(err)
		}
		exps[i] = &experiment.Experiment{Spec: []experiment.TaskSpec{{}}, Result: &experiment.Result{NumLoops: 1}}
		env := &experiment.Env{Experiment: exps[i], Logger: discard(), Dir: t.TempDir(), Now: time.Now}
		if i == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = tk.(distributable).follow(ctx, env, 1)
		}()
	}
	tk, err := Registry(Deps{Generators: &Generators{Index: 0, Count: pods, Host: "p0", Meeting: m}})[name](with)
	if err != nil {
		t.Fatal(err)
	}
	err = tk.Run(ctx, &experiment.Env{Experiment: exps[0], Logger: discard(), Dir: t.TempDir(), Now: time.Now})
	wg.Wait()
	return exps[0], errs, err
}

// Pod 0 records the exact merge of every pod's share, with each pod's
// share and health.
func TestDistributedMergeInProcess(t *testing.T) {
	t.Parallel()
	srv := startHTTP(t, demo.HTTPConfig{})
	const pods, n = 3, 100
	exp, errs, err := runPods(t, newMemMeeting(), pods, map[string]any{"url": srv.URL() + "/m", "numRequests": n, "qps": 500, "replicas": pods})
	if err != nil || errors.Join(errs...) != nil {
		t.Fatalf("pod 0: %v; others: %v", err, errs)
	}
	ls := exp.Result.Insights.Load["http"]
	if ls.Requests != n || srv.Count("GET", "/m") != n || len(ls.Pods) != pods {
		t.Fatalf("merged %d requests, server %d, pods %+v", ls.Requests, srv.Count("GET", "/m"), ls.Pods)
	}
	for i, p := range ls.Pods {
		if want := int64((n - i + pods - 1) / pods); p.Pod != i || p.Requests != want {
			t.Errorf("pod %d: %+v, want %d requests", i, p, want)
		}
	}
	if v := value(t, exp, "http/request-count"); v != n {
		t.Errorf("http/request-count %g, want %d", v, n)
	}
	if h, ok := exp.Result.Insights.Histogram("http/latency", 0); !ok || h.Count() != n {
		t.Errorf("merged latency histogram: %t", ok)
	}
}

// gRPC calls are shared the same way.
func TestDistributedGRPCInProcess(t *testing.T) {
	t.Parallel()
	srv := startGRPC(t, demo.GRPCConfig{})
	const pods, n = 3, 90
	exp, errs, err := runPodsOf(t, "grpc", newMemMeeting(), pods, map[string]any{"host": srv.Addr(), "call": "iter8.demo.v1.Demo.Unary", "total": n, "rps": 300, "replicas": pods})
	if err != nil || errors.Join(errs...) != nil {
		t.Fatalf("pod 0: %v; others: %v", err, errs)
	}
	ls := exp.Result.Insights.Load["grpc"]
	if ls.Requests != n || srv.Calls("Unary") != n || len(ls.Pods) != pods || value(t, exp, "grpc/request-count") != n {
		t.Fatalf("merged %d calls, server %d, pods %+v", ls.Requests, srv.Calls("Unary"), ls.Pods)
	}
	for _, p := range ls.Pods {
		if p.Requests != n/pods {
			t.Errorf("pod %d: %d calls, want %d", p.Pod, p.Requests, n/pods)
		}
	}
}

// A pod that cannot run its share records why, and pod 0 fails the task
// with it, naming the pod.
func TestDistributedPodFailure(t *testing.T) {
	t.Parallel()
	srv := startHTTP(t, demo.HTTPConfig{})
	m := newMemMeeting()
	_, errs, err := runPods(t, &failingPod{memMeeting: m}, 2, map[string]any{"url": srv.URL(), "numRequests": 10, "qps": 500, "replicas": 2})
	if err == nil || !strings.Contains(err.Error(), "generator pod 1 (p): boom") || errors.Join(errs...) != nil {
		t.Errorf("pod 0: %v, others %v; want pod 1's failure", err, errs)
	}
}

// failingPod replaces pod 1's part with a failure.
type failingPod struct{ *memMeeting }

func (f *failingPod) Record(ctx context.Context, task, loop int, p experiment.LoadPart) error {
	p.Error, p.Endpoints = "boom", nil
	return f.memMeeting.Record(ctx, task, loop, p)
}

// A task pod 0 skips is not run by the others.
func TestDistributedSkipped(t *testing.T) {
	t.Parallel()
	m := newMemMeeting()
	m.skip = true
	tk, err := Registry(Deps{Generators: &Generators{Index: 1, Count: 2, Meeting: m}})["http"](map[string]any{"url": "http://127.0.0.1:1/", "replicas": 2, "allowInitialErrors": true})
	if err != nil {
		t.Fatal(err)
	}
	env := &experiment.Env{Experiment: &experiment.Experiment{Result: &experiment.Result{}}, Logger: discard(), Now: time.Now}
	if err := tk.(distributable).follow(context.Background(), env, 1); err != nil || len(m.parts) != 0 {
		t.Errorf("follow: %v, parts %v; want nothing run", err, m.parts)
	}
}

// One saturated pod makes the merged run saturated: its metrics are
// invalid for assess, with the pod named.
func TestDistributedSaturatedPod(t *testing.T) {
	t.Parallel()
	srv := startHTTP(t, demo.HTTPConfig{})
	// closed loop: pod 0 cannot fall behind a schedule on a busy machine,
	// so only pod 1's (forced) saturation can make the merge invalid
	exp, errs, err := runPods(t, &saturatedPod{memMeeting: newMemMeeting()}, 2, map[string]any{"url": srv.URL(), "numRequests": 10, "replicas": 2})
	if err != nil || errors.Join(errs...) != nil {
		t.Fatalf("pod 0: %v; others: %v", err, errs)
	}
	in := exp.Result.Insights
	if why := in.Invalid("http/latency-p99", 0); !strings.Contains(why, "generator 1: behind") {
		t.Errorf("http/latency-p99 invalid because %q, want pod 1's saturation", why)
	}
	if ps := in.Load["http"].Pods; len(ps) != 2 || ps[0].Saturated || !ps[1].Saturated {
		t.Errorf("pods %+v, want pod 1 saturated", ps)
	}
}

// saturatedPod marks pod 1's part saturated.
type saturatedPod struct{ *memMeeting }

func (f *saturatedPod) Record(ctx context.Context, task, loop int, p experiment.LoadPart) error {
	p.Saturated, p.SaturationReason = true, "behind"
	return f.memMeeting.Record(ctx, task, loop, p)
}

// A pod's report travels as its part of the experiment and comes back with
// every count the merged result shows.
func TestPartRoundTrip(t *testing.T) {
	t.Parallel()
	st := load.Stats{Requests: 40, Errors: 3, TimedOut: 2, Replayed: 5, Delayed: 4, Unsent: 6, UnsentHeld: 5, Codes: map[string]int64{"200": 37, "timeout": 2, "in-flight-at-abort": 1},
		Latency: metrics.NewHDR(), Service: metrics.NewHDR()}
	for i := range 40 {
		st.Latency.Record(time.Duration(i+1) * time.Millisecond)
		st.Service.Record(time.Duration(i+1) * time.Microsecond)
	}
	rep := &load.Report{Open: true, Endpoints: []load.Stats{st}, Total: st, Elapsed: 2 * time.Second, Sent: 40, Delayed: 4, Unsent: 6, UnsentHeld: 5,
		IntendedRate: 23, AchievedRate: 20, Connections: 7, InitialConnections: 4, MaxConnections: 46, GeneratorLag: metrics.NewHDR(), Stopped: "aborted"}
	p, err := partOf(rep, 1, "pod-1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := reportOf(p)
	if err != nil {
		t.Fatal(err)
	}
	g := got.Total
	if g.Requests != 40 || g.Errors != 3 || g.TimedOut != 2 || g.Replayed != 5 || g.Delayed != 4 || g.Unsent != 6 || g.UnsentHeld != 5 || g.Codes["in-flight-at-abort"] != 1 || g.Latency.Count() != 40 || g.Service.Count() != 40 {
		t.Errorf("stats after the round trip: %+v", g)
	}
	if got.Sent != 40 || got.Delayed != 4 || got.Unsent != 6 || got.UnsentHeld != 5 || got.Connections != 7 || got.InitialConnections != 4 || got.MaxConnections != 46 || got.Stopped != "aborted" {
		t.Errorf("report after the round trip: %+v", got)
	}
}
