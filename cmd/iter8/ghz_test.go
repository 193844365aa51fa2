package main

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/demo"
)

// The original documented that any field of ghz's runner config is a grpc
// input (iter8-tools/docs docs/user-guide/tasks/grpc.md, "Parameters"),
// and its chart passes every grpc value to the task (hub tag iter8-0.13.7,
// charts/iter8/templates/_task-grpc.tpl, kept in testdata/original). The
// docs' launch command, with ghz's step load schedule (ghz docs/load.md,
// "Step Up RPS", scaled down), name, tags and output options, runs on the
// original's chart and on iter8's: exactly the total calls reach the
// server, the result reports the schedule's mean rate (20, 40, then 60
// calls/s every 500 ms: 60 calls in 1.5 s, 40/s; a constant rate would not
// give it), records name and tags, and warns in the log and the report's
// task section that the output options do not apply.
func TestOriginalGRPCGhzConfig(t *testing.T) {
	needBinary(t)
	t.Parallel()
	hubChart, err := filepath.Abs(filepath.Join("..", "..", "testdata", "original", "hub-iter8-0.13.7", "charts", "iter8"))
	if err != nil {
		t.Fatal(err)
	}
	for _, chart := range [][]string{{"-c", hubChart, "--localChart"}, nil} {
		srv, err := demo.StartGRPC(demo.GRPCConfig{}, "")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Close() })
		dir := t.TempDir()
		args := append([]string{"launch"}, chart...)
		args = append(args, "--set", "tasks={grpc,assess}", "--set", "grpc.host="+srv.Addr(),
			"--set", "grpc.call=helloworld.Greeter.SayHello", "--set", "grpc.data.name=ghz",
			"--set", "grpc.total=60", "--set", "grpc.load-schedule=step", "--set", "grpc.load-start=20",
			"--set", "grpc.load-step=20", "--set", "grpc.load-end=60", "--set", "grpc.load-step-duration=500ms",
			"--set", "grpc.concurrency=4", "--set", "grpc.name=step-up", "--set", "grpc.tags.env=ci",
			"--set", "grpc.count-errors=true", "--set", "grpc.format=json", "--set", "grpc.output=report.json",
			"--set", "assess.SLOs.upper.grpc/error-rate=0")
		r := iter8(t, dir, args...)
		if r.code != 0 {
			t.Fatalf("%v: launch exited %d:\n%s", chart, r.code, r.stderr)
		}
		if n := srv.Calls("SayHello"); n != 60 {
			t.Errorf("%v: server saw %d calls, want 60", chart, n)
		}
		exp := loadExperiment(t, dir)
		ls := exp.Result.Insights.Load["grpc"]
		if ls == nil || ls.Requests != 60 || ls.Mode != "open" || math.Abs(ls.IntendedRate-40) > 0.01 {
			t.Fatalf("%v: load %+v, want 60 calls in open loop at a mean intended rate of 40/s", chart, ls)
		}
		if ls.Name != "step-up" || ls.Tags["env"] != "ci" {
			t.Errorf("%v: name %q tags %v, want step-up and env=ci", chart, ls.Name, ls.Tags)
		}
		for _, key := range []string{"format", "output"} {
			want := `ghz option \"` + key + `\" accepted but not applied`
			if !strings.Contains(r.stderr, want) {
				t.Errorf("%v: the log does not warn about %s:\n%s", chart, key, r.stderr)
			}
		}
		rep := iter8(t, dir, "report")
		if !strings.Contains(rep.stdout, `ghz option "output" accepted but not applied`) || !strings.Contains(rep.stdout, "grpc run: step-up (env=ci)") {
			t.Errorf("%v: the report lacks the warning or the run's name and tags:\n%s", chart, rep.stdout)
		}
		if a := iter8(t, dir, "assert", "-c", "completed", "-c", "nofailure", "-c", "slos"); a.code != 0 {
			t.Errorf("%v: assert exited %d:\n%s", chart, a.code, a.stderr)
		}
	}
}
