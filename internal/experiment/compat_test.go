package experiment_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/golden"
	"iter8.tools/iter8/internal/report"
	"iter8.tools/iter8/internal/store"
	"iter8.tools/iter8/internal/task"
	"iter8.tools/iter8/internal/testserver"
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
	t.Parallel()
	srv, err := testserver.StartHTTP(testserver.HTTPConfig{}, "")
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
