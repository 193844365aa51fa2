package experiment_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/store"
)

// fake tasks for runner semantics

type recordTask struct{ value float64 }

func (r recordTask) Run(_ context.Context, env *experiment.Env) error {
	in, err := env.Experiment.Result.InitInsights(1, nil)
	if err != nil {
		return err
	}
	return in.SetValue("fake/value", metrics.Meta{Description: "a value", Type: metrics.Gauge}, 0, r.value)
}

type failTask struct{}

func (failTask) Run(context.Context, *experiment.Env) error { return errors.New("boom") }

// blockTask records a value, tells the test it started, then waits for cancellation.
type blockTask struct{ started chan<- struct{} }

func (b blockTask) Run(ctx context.Context, env *experiment.Env) error {
	if err := (recordTask{value: 7}).Run(ctx, env); err != nil {
		return err
	}
	close(b.started)
	<-ctx.Done()
	return ctx.Err()
}

func registry(started chan<- struct{}) experiment.Registry {
	return experiment.Registry{
		"record": func(with map[string]any) (experiment.Task, error) {
			var in struct {
				Value float64 `json:"value"`
			}
			if err := inputs.Decode(with, &in); err != nil {
				return nil, err
			}
			return recordTask{value: in.Value}, nil
		},
		"fail":  func(map[string]any) (experiment.Task, error) { return failTask{}, nil },
		"block": func(map[string]any) (experiment.Task, error) { return blockTask{started: started}, nil },
	}
}

func newStore(t *testing.T, doc string) *store.Memory {
	t.Helper()
	exp, err := experiment.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	m, err := store.NewMemory(exp)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRunnerLoops(t *testing.T) {
	t.Parallel()
	doc := `
spec:
- task: record
  with: {value: 3}
- if: Result.NumLoops == 2
  task: record
  with: {value: 5}
`
	st := newStore(t, doc)
	clock := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	r := &experiment.Runner{Store: st, Registry: registry(nil), Version: "v0.14", Now: func() time.Time { return clock }}
	for loop := 1; loop <= 3; loop++ {
		r.ReuseResult = loop > 1
		exp, err := r.Run(context.Background())
		if err != nil {
			t.Fatalf("loop %d: %v", loop, err)
		}
		// numCompletedTasks resets every loop (the original's defect before v0.13.4)
		if exp.Result.NumLoops != loop || exp.Result.NumCompletedTasks != 2 || !exp.Completed() {
			t.Fatalf("loop %d: numLoops %d, numCompletedTasks %d", loop, exp.Result.NumLoops, exp.Result.NumCompletedTasks)
		}
		want := 3.0
		if loop == 2 {
			want = 5
		}
		if v, _ := exp.Result.Insights.Value("fake/value", 0); v != want {
			t.Errorf("loop %d: value %v, want %v", loop, v, want)
		}
		if h := exp.Result.History; len(h) != loop || h[loop-1].Loop != loop || h[loop-1].Values[0]["fake/value"] != want {
			t.Errorf("loop %d: history %+v", loop, h)
		}
		wantState := experiment.Skipped
		if loop == 2 {
			wantState = experiment.Completed
		}
		if got := exp.Result.Tasks[1].State; got != wantState {
			t.Errorf("loop %d: task 2 state %s, want %s", loop, got, wantState)
		}
	}
	// 1 save at the start and 1 at the end of each loop, 2 per task run
	// (running, done), 1 per skip
	if st.Saves != 1+3*(2+2)+2+1*2 {
		t.Errorf("saves = %d", st.Saves)
	}
	// without reuse the result starts afresh
	r.ReuseResult = false
	exp, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if exp.Result.NumLoops != 1 || exp.Result.Iter8Version != "v0.14" || !exp.Result.StartTime.Equal(clock) {
		t.Errorf("fresh result: %+v", exp.Result)
	}
}

func TestRunnerFailureKeepsResults(t *testing.T) {
	t.Parallel()
	st := newStore(t, "spec:\n- task: record\n  with: {value: 1}\n- task: fail\n- task: record\n  with: {value: 2}\n")
	r := &experiment.Runner{Store: st, Registry: registry(nil)}
	_, err := r.Run(context.Background())
	if !errors.Is(err, experiment.ErrFailed) {
		t.Fatalf("error %v, want ErrFailed", err)
	}
	saved, err := st.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res := saved.Result
	if !res.Failure || res.NumCompletedTasks != 1 || res.FailureReason != "task 2 (fail) failed: boom" {
		t.Errorf("result after failure: %+v", res)
	}
	if v, ok := res.Insights.Value("fake/value", 0); !ok || v != 1 {
		t.Errorf("the value recorded before the failure was lost: %v %v", v, ok)
	}
	if res.Tasks[1].State != experiment.Failed || res.Tasks[2].State != experiment.Pending {
		t.Errorf("task states: %+v", res.Tasks)
	}
}

func TestRunnerInvalidChangesNothing(t *testing.T) {
	t.Parallel()
	tests := []struct{ doc, want string }{
		{"spec:\n- task: record\n  with: {value: 1}\n- task: nope\n", `task 2: unknown task "nope": expected one of block, fail, record`},
		{"spec:\n- task: record\n  with: {value: abc}\n", `task 1 (record): field "value"`},
		{"spec:\n- task: record\n  if: 'SLOs('\n", `task 1 (record): field "if": invalid value "SLOs("`},
		{"spec:\n- task: record\n  run: echo\n", "both task and run are set"},
		{"spec:\n- if: SLOs()\n", "neither task nor run is set"},
	}
	for _, tt := range tests {
		st := newStore(t, tt.doc)
		before := st.Bytes()
		r := &experiment.Runner{Store: st, Registry: registry(nil)}
		_, err := r.Run(context.Background())
		if !errors.Is(err, inputs.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want inputs.ErrInvalid containing %q", err, tt.want)
		}
		if string(st.Bytes()) != string(before) {
			t.Errorf("invalid experiment was modified")
		}
	}
}

// An experiment file with keys no task knows runs, as in the original, with
// a warning naming each key on the task's state; Build (values a human
// typed) still refuses them.
func TestRunnerIgnoresUnknownKeys(t *testing.T) {
	t.Parallel()
	doc := "spec:\n- task: record\n  with: {valu: 1, value: 2, zzz: {a: 1}}\n"
	st := newStore(t, doc)
	exp, err := (&experiment.Runner{Store: st, Registry: registry(nil)}).Run(context.Background())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !exp.Completed() || exp.Result.NumCompletedTasks != 1 {
		t.Errorf("completed %v, tasks %d, want completed with 1 task", exp.Completed(), exp.Result.NumCompletedTasks)
	}
	want := []string{
		`unknown input "valu" ignored, as the original did: did you mean "value"?`,
		`unknown input "zzz" ignored, as the original did`,
	}
	if got := exp.Result.Tasks[0].Warnings; !slices.Equal(got, want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
	name := "record"
	spec := []experiment.TaskSpec{{Task: &name, With: map[string]any{"valu": 1}}}
	if _, err := experiment.Build(spec, registry(nil)); !errors.Is(err, inputs.ErrInvalid) || !strings.Contains(err.Error(), `did you mean "value"`) {
		t.Errorf("strict build: error %v, want the unknown key refused", err)
	}
}

func TestRunnerCancel(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	st := newStore(t, "spec:\n- task: record\n  with: {value: 1}\n- task: block\n- task: record\n  with: {value: 2}\n")
	ctx, cancel := context.WithCancelCause(context.Background())
	r := &experiment.Runner{Store: st, Registry: registry(started)}
	done := make(chan error, 1)
	go func() {
		_, err := r.Run(ctx)
		done <- err
	}()
	<-started
	cancel(fmt.Errorf("received signal interrupt"))
	err := <-done
	if !errors.Is(err, experiment.ErrFailed) {
		t.Fatalf("error %v, want ErrFailed", err)
	}
	saved, err := st.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res := saved.Result
	if !res.Failure || res.NumCompletedTasks != 1 || !strings.Contains(res.FailureReason, "task 2 (block) was interrupted: received signal interrupt") {
		t.Errorf("result after cancel: %+v", res)
	}
	if v, _ := res.Insights.Value("fake/value", 0); v != 7 {
		t.Errorf("value recorded by the interrupted task = %v, want 7", v)
	}
}

// abortTask stops the experiment.
type abortTask struct{}

func (abortTask) Run(context.Context, *experiment.Env) error {
	return fmt.Errorf("%w: enough", experiment.ErrAbort)
}

func TestRunnerLoopsContinueAfterFailureStopOnAbort(t *testing.T) {
	t.Parallel()
	reg := registry(nil)
	reg["abort"] = func(map[string]any) (experiment.Task, error) { return abortTask{}, nil }
	doc := `
spec:
- task: record
  with: {value: 1}
- if: Result.NumLoops == 2
  task: fail
- if: Result.NumLoops == 4
  task: abort
`
	st := newStore(t, doc)
	r := &experiment.Runner{Store: st, Registry: reg}
	exp, err := r.Loops(context.Background(), 6, 0)
	if !errors.Is(err, experiment.ErrAbort) {
		t.Fatalf("error %v, want ErrAbort", err)
	}
	res := exp.Result
	if res.NumLoops != 4 || !res.Aborted || !res.Failure || len(res.History) != 4 {
		t.Errorf("loops %d aborted %v failure %v history %d", res.NumLoops, res.Aborted, res.Failure, len(res.History))
	}
	// an aborted experiment runs no more loops, even when run again with
	// its result reused (a CronJob's next loop)
	r.ReuseResult = true
	again, err := r.Run(context.Background())
	if !errors.Is(err, experiment.ErrAbort) || !strings.Contains(err.Error(), "aborted in loop 4") {
		t.Errorf("run after the abort: error %v, want one saying the experiment was aborted in loop 4", err)
	}
	if saved, _ := st.Load(context.Background()); again.Result.NumLoops != 4 || saved.Result.NumLoops != 4 {
		t.Errorf("run after the abort: loops %d (stored %d), want 4", again.Result.NumLoops, saved.Result.NumLoops)
	}
	// the result's failure is sticky, as in the original; the history
	// says which loops failed: loop 2, and loop 4, which aborted
	for i, want := range []bool{false, true, false, true} {
		if res.History[i].Failure != want {
			t.Errorf("loop %d: failure %v, want %v", i+1, res.History[i].Failure, want)
		}
	}
	// without an abort, all loops run and the first failure is returned
	st = newStore(t, "spec:\n- if: Result.NumLoops == 2\n  task: fail\n- task: record\n  with: {value: 2}\n")
	r = &experiment.Runner{Store: st, Registry: reg}
	exp, err = r.Loops(context.Background(), 3, 0)
	if !errors.Is(err, experiment.ErrFailed) || exp.Result.NumLoops != 3 || !exp.Completed() {
		t.Errorf("error %v loops %d completed %v", err, exp.Result.NumLoops, exp.Completed())
	}
}

// slowFirstLoad is a store whose first Load takes 30 ms of the runner's
// clock (which is the wall clock plus what loads took), without sleeping.
type slowFirstLoad struct {
	*store.Memory
	took  atomic.Int64
	loads atomic.Int32
}

func (s *slowFirstLoad) Load(ctx context.Context) (*experiment.Experiment, error) {
	if s.loads.Add(1) == 1 {
		s.took.Add(int64(30 * time.Millisecond))
	}
	return s.Memory.Load(ctx)
}

func (s *slowFirstLoad) now() time.Time { return time.Now().Add(time.Duration(s.took.Load())) }

// Loops an interval apart are recorded an interval apart: a loop's start in
// the history is when the runner started it, not when its setup (loading
// the experiment) ended, so a slow setup cannot make two loops look closer
// than the interval.
func TestLoopStartsAreAnIntervalApart(t *testing.T) {
	t.Parallel()
	st := &slowFirstLoad{Memory: newStore(t, "spec:\n- task: record\n  with: {value: 1}\n")}
	const interval = 50 * time.Millisecond
	r := &experiment.Runner{Store: st, Registry: registry(nil), Now: st.now}
	exp, err := r.Loops(context.Background(), 3, interval)
	if err != nil {
		t.Fatal(err)
	}
	h := exp.Result.History
	if len(h) != 3 {
		t.Fatalf("history has %d loops, want 3", len(h))
	}
	for i := 1; i < len(h); i++ {
		if d := h[i].StartTime.Sub(h[i-1].StartTime); d < interval {
			t.Errorf("loop %d started %v after loop %d, want at least the %v interval", h[i].Loop, d, h[i-1].Loop, interval)
		}
	}
	if !exp.Result.StartTime.Equal(h[0].StartTime) {
		t.Errorf("the experiment started at %v, its first loop at %v", exp.Result.StartTime, h[0].StartTime)
	}
}

// A loop whose process was killed (its pod evicted, out of memory) leaves
// no record; the next run that reuses the result records it as failed,
// its SLOs not judged, so that no window passes over it. A loop whose
// tasks had all ended before the process stopped is recorded as it stands.
func TestRunnerRecordsInterruptedLoop(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		states  []experiment.TaskState
		failure string
	}{
		{"killed in a task", []experiment.TaskState{experiment.Completed, experiment.Running}, "loop 2 was interrupted: task 2 (record) was running when its process stopped"},
		{"killed between tasks", []experiment.TaskState{experiment.Completed, experiment.Pending}, "loop 2 was interrupted: its process stopped before task 2 (record)"},
		{"killed after its tasks", []experiment.TaskState{experiment.Completed, experiment.Completed}, ""},
	} {
		st := newStore(t, "spec:\n- task: record\n  with: {value: 3}\n- task: record\n  with: {value: 4}\n")
		clock := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
		r := &experiment.Runner{Store: st, Registry: registry(nil), Now: func() time.Time { return clock }}
		if _, err := r.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		// loop 2 began an hour later, and its process stopped
		exp, err := st.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		began := clock.Add(time.Hour)
		exp.Result.NumLoops, exp.Result.LoopStartTime = 2, &began
		for i, s := range tt.states {
			exp.Result.Tasks[i].State = s
		}
		if err := st.Save(context.Background(), exp); err != nil {
			t.Fatal(err)
		}
		clock = clock.Add(2 * time.Hour)
		r.ReuseResult = true
		exp, err = r.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		res := exp.Result
		if len(res.History) != 3 || res.History[1].Loop != 2 || !res.History[1].StartTime.Equal(began) || res.NumLoops != 3 {
			t.Fatalf("%s: loops %d, history %+v", tt.name, res.NumLoops, res.History)
		}
		if res.Failure != (tt.failure != "") || res.FailureReason != tt.failure || res.History[1].Failure != (tt.failure != "") || res.History[2].Failure {
			t.Errorf("%s: failure %v %q, loop 2 failed %v, loop 3 failed %v; want %q", tt.name, res.Failure, res.FailureReason, res.History[1].Failure, res.History[2].Failure, tt.failure)
		}
	}
}
