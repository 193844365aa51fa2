package experiment_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/demo"
	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/golden"
	"iter8.tools/iter8/internal/report"
	"iter8.tools/iter8/internal/store"
	"iter8.tools/iter8/internal/task"
)

// Experiment files written by the original iter8 (v0.11-v0.13) load and
// report as they are, and run with this iter8.
func TestCompatFixturesReport(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/compat/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			exp, err := experiment.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if err := report.Text(&out, exp, report.Options{}); err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "golden", strings.TrimSuffix(filepath.Base(f), ".yaml")+".txt"), out.Bytes())
		})
	}
}

func TestCompatFixturesRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the original's run tasks with /bin/bash; runs without -short")
	}
	t.Parallel()
	srv, err := demo.StartHTTP(demo.HTTPConfig{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	tests := []struct {
		file      string
		completed int
		slos      bool
		requests  float64
	}{
		{"v0.11-finished.yaml", 3, true, 40},
		{"v0.13-generated.yaml", 5, true, 30},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata/compat", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			b = bytes.ReplaceAll(b, []byte("url: URL"), []byte("url: "+srv.URL()+"/"+tt.file))
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), b, 0o644); err != nil {
				t.Fatal(err)
			}
			r := &experiment.Runner{Store: store.NewFile(dir), Registry: task.Registry(task.Deps{}), Dir: dir, Version: "v0.14"}
			exp, err := r.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if exp.Result.NumCompletedTasks != tt.completed || !exp.Completed() || !exp.NoFailure() || exp.SLOs() != tt.slos {
				t.Errorf("result: completed %d/%d failure %v slos %v", exp.Result.NumCompletedTasks, len(exp.Spec), exp.Result.Failure, exp.SLOs())
			}
			if v, _ := exp.Result.Insights.Value("http/request-count", 0); v != tt.requests {
				t.Errorf("http/request-count = %v, want %v", v, tt.requests)
			}
			if _, ok := exp.Result.Insights.Value("http/latency-p97.5", 0); !ok {
				t.Error("http/latency-p97.5 missing")
			}
			var out bytes.Buffer
			if err := report.Text(&out, exp, report.Options{}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "Experiment completed: true") {
				t.Errorf("report:\n%s", out.String())
			}
			if srv.Count("GET", "/"+tt.file)+srv.Count("POST", "/"+tt.file) == 0 {
				t.Error("the server saw no requests")
			}
		})
	}
}

// original reads a file copied from the original iter8's repository
// (testdata/original/README.md names the source and tag).
func original(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "original", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// if: expressions see what the original's saw: its environment was the
// experiment (Spec, Result with Go field names, Completed(), NoFailure(),
// SLOs()), evaluated here on the original's own finished experiment.
func TestOriginalConditionEnvironment(t *testing.T) {
	t.Parallel()
	exp, err := experiment.Decode(original(t, "v0.13.0/assertinputs/experiment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		src  string
		want bool
	}{
		{"SLOs()", true}, // the file's own conditions
		{"not SLOs()", false},
		{"len(Spec) == 4", true},
		{"Result.NumCompletedTasks == len(Spec)", true},
		{"Completed() && NoFailure()", true},
		{"Result.NumLoops == 0", true}, // written before numLoops
		{"Result.Failure", false},
		{`Result.Iter8Version == "v0.12"`, true},
		{"Result.Insights.NumVersions == 1", true},
		{"len(Result.Insights.SLOs.Upper) == 6", true},
		{"Result.Insights.SLOsSatisfied.Upper[0][0]", true},
		{`Result.Insights.NonHistMetricValues[0]["http/request-count"][0] == 16`, true},
		{`Result.Insights.ScalarMetricValue(0, "http/latency-mean") < 500`, true},
		{`Result.Insights.ScalarMetricValue(0, "no/such") == nil`, true},
		{`Result.Insights.TrackVersionStr(0) == "version 0"`, true},
		{`Result.StartTime.Year() == 2022`, true},
	}
	for _, tt := range tests {
		c, err := experiment.CompileCondition(tt.src)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		got, err := c.Eval(exp)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s = %v, want %v", tt.src, got, tt.want)
		}
	}
}

// The original's own experiment runs with its if: tasks deciding as the
// original's would, and leaves nothing but experiment.yaml behind. Not
// parallel: this package's other load tests then run after it, not beside it.
func TestOriginalExperimentRuns(t *testing.T) {
	srv, err := demo.StartHTTP(demo.HTTPConfig{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	b := original(t, "v0.13.0/assertinputs/experiment.yaml")
	b = bytes.ReplaceAll(b, []byte("url: https://httpbin.org/get"), []byte("url: "+srv.URL()+"/get"))
	b = bytes.ReplaceAll(b, []byte("duration: 2s"), []byte("duration: 1s"))
	// tasks whose conditions read the spec and the result as the original's did
	b = append(bytes.Replace(b, []byte("result:"), []byte(`  - if: len(Spec) == 6 && Result.NumCompletedTasks == 4 && Result.NumLoops == 1
    run: echo "sees the spec"
  - if: Result.Insights.ScalarMetricValue(0, "http/request-count") == nil
    run: exit 1
result:`), 1), '\n')
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := &experiment.Runner{Store: store.NewFile(dir), Registry: task.Registry(task.Deps{}), Dir: dir, Version: "v0.14"}
	exp, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Completed() || !exp.NoFailure() || !exp.SLOs() || exp.Result.NumCompletedTasks != 6 {
		t.Fatalf("result: completed %v (%d of %d), failure %q, slos %v", exp.Completed(), exp.Result.NumCompletedTasks, len(exp.Spec), exp.Result.FailureReason, exp.SLOs())
	}
	var states []experiment.TaskState
	for _, s := range exp.Result.Tasks {
		states = append(states, s.State)
	}
	want := []experiment.TaskState{experiment.Completed, experiment.Completed, experiment.Completed, experiment.Skipped, experiment.Completed, experiment.Skipped}
	if fmt.Sprint(states) != fmt.Sprint(want) {
		t.Errorf("task states %v, want %v", states, want)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if fmt.Sprint(names) != "[experiment.yaml]" {
		t.Errorf("files left in the run directory: %v, want only experiment.yaml", names)
	}
}

// A result written before numLoops existed (the original's
// testdata/assertinputs) is completed when every task completed, as in the
// original; the chart's fresh result (no task, no loop) has not started.
func TestCompletedWithoutNumLoops(t *testing.T) {
	t.Parallel()
	exp, err := experiment.Decode(original(t, "v0.13.0/assertinputs/experiment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if exp.Result.NumLoops != 0 || !exp.Completed() {
		t.Fatalf("numLoops %d, completed %v", exp.Result.NumLoops, exp.Completed())
	}
	if got := exp.Check([]experiment.Assertion{experiment.AssertCompleted, experiment.AssertNoFailure, experiment.AssertSLOs}); len(got) != 0 {
		t.Errorf("the original's finished result fails: %q", got)
	}
	for _, tt := range []struct {
		done int
		want string
	}{
		{0, "completed: the experiment has not started"},
		{2, "completed: 2 of 4 tasks have completed"},
	} {
		exp.Result.NumCompletedTasks = tt.done
		if got := exp.Check([]experiment.Assertion{experiment.AssertCompleted}); exp.Completed() || len(got) != 1 || got[0] != tt.want {
			t.Errorf("%d of 4 tasks without numLoops: completed %v, %q, want %q", tt.done, exp.Completed(), got, tt.want)
		}
	}
}
