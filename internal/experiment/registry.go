package experiment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/secret"
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

// Warner is implemented by tasks that accepted inputs they do not apply
// (ghz's output options): their warnings join the step's.
type Warner interface {
	Warnings() []string
}

// Step is a task of the spec ready to run.
type Step struct {
	Name string
	Task Task
	If   *Condition
	// Spec is the task's spec with the defaults of its inputs filled in.
	Spec TaskSpec
	// Warnings name the inputs ignored when building leniently (BuildFile).
	Warnings []string
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
	return build(spec, reg, false)
}

// BuildFile is Build for an experiment file, as iter8 run and k run read
// it: as in the original, an input key no task knows is ignored, with a
// warning on the step naming the key (and the known key it is likely a
// typo of). Values a human types (gen, launch) go through Build, which
// refuses such keys.
func BuildFile(spec []TaskSpec, reg Registry) ([]Step, error) {
	return build(spec, reg, true)
}

func build(spec []TaskSpec, reg Registry, lenient bool) ([]Step, error) {
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
		if err := checkLiterals("", with); err != nil {
			return nil, &TaskError{Index: i, Name: name, Err: err}
		}
		t, warnings, err := buildTask(build, with, lenient)
		if err != nil {
			return nil, &TaskError{Index: i, Name: name, Err: err}
		}
		if w, ok := t.(Warner); ok {
			warnings = append(warnings, w.Warnings()...)
		}
		steps[i] = Step{Name: name, Task: t, Spec: ts, Warnings: warnings}
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
	if err := checkVersions(steps); err != nil {
		return nil, err
	}
	return steps, nil
}

// buildTask builds one task. When lenient, each unknown input key the
// builder reports is dropped from a copy of with and the build retried, one
// warning per key; every other error stands.
func buildTask(build Builder, with map[string]any, lenient bool) (Task, []string, error) {
	var warnings []string
	for {
		t, err := build(with)
		var fe *inputs.FieldError
		if err == nil || !lenient || !errors.As(err, &fe) || !fe.Unknown {
			return t, warnings, err
		}
		rest, ok := withoutKey(with, fe.Field)
		if !ok {
			return nil, warnings, err
		}
		w := fmt.Sprintf("unknown input %q ignored, as the original did", fe.Field)
		if fe.Suggest != "" {
			w += fmt.Sprintf(": did you mean %q?", fe.Suggest)
		}
		warnings = append(warnings, w)
		with = rest
	}
}

// withoutKey returns a copy of m without the key at path, a dotted path
// such as endpoints.a.b.foo where map keys may hold dots themselves; ok is
// false when no such key exists.
func withoutKey(m map[string]any, path string) (map[string]any, bool) {
	if _, ok := m[path]; ok {
		out := maps.Clone(m)
		delete(out, path)
		return out, true
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		rest, found := strings.CutPrefix(path, k+".")
		sub, isMap := m[k].(map[string]any)
		if !found || !isMap {
			continue
		}
		if s, ok := withoutKey(sub, rest); ok {
			out := maps.Clone(m)
			out[k] = s
			return out, true
		}
	}
	return nil, false
}

// checkLiterals refuses a secret given as it is anywhere in a task's inputs
// (secret.Literal's rules on values: passwords in URLs and DSNs, webhook
// URLs, secret query parameters); names are checked by the tasks, which
// know which maps hold headers. The error names the field, never the value.
func checkLiterals(field string, v any) error {
	switch x := v.(type) {
	case string:
		if why := secret.Literal("", x); why != "" {
			return &inputs.FieldError{Field: field, Value: "(hidden)", Expected: "no secret given as it is (found " + why + "): this input resolves no references and would store it in the experiment; give credentials by reference (${env:NAME} or ${file:/path}) in an input that resolves them, such as headers"}
		}
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			f := k
			if field != "" {
				f = field + "." + k
			}
			if err := checkLiterals(f, x[k]); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			if err := checkLiterals(fmt.Sprintf("%s[%d]", field, i), e); err != nil {
				return err
			}
		}
	}
	return nil
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
