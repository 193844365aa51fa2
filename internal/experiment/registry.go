package experiment

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// Task is one runnable step of an experiment.
type Task interface {
	// Run executes the task and records what it measured in env.Experiment.
	// It must return promptly once ctx is cancelled.
	Run(ctx context.Context, env *Env) error
}

// Inputs is implemented by tasks that can report their inputs with defaults
// filled in; the runner writes them back into the spec so readers of the
// stored experiment see exactly what ran.
type Inputs interface {
	Inputs() any
}

// Env is what a running task may use.
type Env struct {
	Experiment *Experiment
	// Index is the task's zero-based position in the spec.
	Index int
	// SLOIndex is, for a task that judges SLOs (Judge), the position of its
	// first SLO in insights.sloVerdicts, after the SLOs of the judging
	// tasks before it.
	SLOIndex int
	Logger   *slog.Logger
	// Dir is the run directory; relative file inputs are read from it.
	Dir string
	// Progress receives live progress lines; nil means no progress output.
	Progress io.Writer
	Now      func() time.Time
}

// Builder validates a task's inputs and returns the task. It must not do I/O.
type Builder func(with map[string]any) (Task, error)

// Registry maps task names to builders. It is built explicitly in one place
// (package task) and passed to the runner.
type Registry map[string]Builder

// Names lists the registered task names in order.
func (r Registry) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Step is a task of the spec ready to run.
type Step struct {
	Name string
	Task Task
	If   *Condition
	// Spec is the task's spec with the defaults of its inputs filled in.
	Spec TaskSpec
}

// Specs returns the steps' specs, defaults filled in: what the experiment
// will run, as written to experiment.yaml.
func Specs(steps []Step) []TaskSpec {
	out := make([]TaskSpec, len(steps))
	for i, s := range steps {
		out[i] = s.Spec
	}
	return out
}

// Build validates every task of spec and returns the steps to run. It
// reports the first invalid task; nothing runs unless every task is valid,
// and no two tasks write the same metric names in a loop.
// spec is not changed: each step's Spec has the defaults filled in.
func Build(spec []TaskSpec, reg Registry) ([]Step, error) {
	steps := make([]Step, len(spec))
	for i := range spec {
		ts := spec[i]
		name := ts.Name()
		if ts.Task != nil && ts.Run != nil {
			return nil, &TaskError{Index: i, Name: name, Err: invalidf("both task and run are set: expected one of them")}
		}
		if name == "" {
			return nil, &TaskError{Index: i, Err: invalidf("neither task nor run is set: expected task: <name> or run: <script>")}
		}
		build, ok := reg[name]
		if !ok {
			return nil, &TaskError{Index: i, Err: invalidf("unknown task %q: expected one of %s", name, strings.Join(reg.Names(), ", "))}
		}
		with := ts.With
		if ts.Run != nil {
			if len(ts.With) > 0 {
				return nil, &TaskError{Index: i, Name: name, Err: invalidf("a run task takes no with: inputs")}
			}
			with = map[string]any{"script": *ts.Run}
		}
		t, err := build(with)
		if err != nil {
			return nil, &TaskError{Index: i, Name: name, Err: err}
		}
		steps[i] = Step{Name: name, Task: t, Spec: ts}
		if ts.If != nil {
			c, err := CompileCondition(*ts.If)
			if err != nil {
				return nil, &TaskError{Index: i, Name: name, Err: err}
			}
			steps[i].If = c
		}
		if in, ok := t.(Inputs); ok && ts.Run == nil {
			w, err := toMap(in.Inputs())
			if err != nil {
				return nil, &TaskError{Index: i, Name: name, Err: err}
			}
			steps[i].Spec.With = w
		}
	}
	if err := checkProviders(steps); err != nil {
		return nil, err
	}
	return steps, nil
}

func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding inputs: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("encoding inputs: %w", err)
	}
	return m, nil
}
