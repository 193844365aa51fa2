package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// originalFile reads a file of the original Iter8 kept in the repository's
// testdata/original (its README names the source and tag of each).
func originalFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "original", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runDirWith makes a run directory holding the original's file as
// experiment.yaml.
func runDirWith(t *testing.T, path string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), originalFile(t, path), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The original's own assert test: its finished result, written before
// numLoops existed, passes completed, nofailure and slos (exit 0, with the
// original's log messages); its failing result fails slos (exit 1); its
// result without insights is completed but has no SLO verdict.
func TestOriginalAssert(t *testing.T) {
	needBinary(t)
	t.Parallel()
	var want []string
	for _, l := range strings.Split(strings.TrimSpace(string(originalFile(t, "v0.13.0/output/assert-slos.txt"))), "\n") {
		_, msg, _ := strings.Cut(l, "msg=")
		want = append(want, msg)
	}
	dir := runDirWith(t, "v0.13.0/assertinputs/experiment.yaml")
	r := iter8(t, dir, "assert", "-c", "completed", "-c", "nofailure", "-c", "slos")
	if r.code != 0 {
		t.Errorf("assert on the original's assertinputs exited %d, want 0:\n%s", r.code, r.stderr)
	}
	for _, msg := range want {
		if !strings.Contains(r.stderr, "msg="+msg) && !strings.Contains(r.stderr, `msg="`+msg+`"`) {
			t.Errorf("assert does not log %q as the original did:\n%s", msg, r.stderr)
		}
	}
	for _, tt := range []struct {
		file, conds string
		code        int
	}{
		{"v0.13.0/assertinputs/experimentWithLowerSLOs.yaml", "completed,nofailure,slos", 0},
		{"v0.13.0/assertinputsfail/experiment.yaml", "completed,nofailure", 0},
		{"v0.13.0/assertinputsfail/experiment.yaml", "slos", 1},
		{"v0.13.0/assertinputs/noinsights/experiment.yaml", "completed,nofailure", 0},
		{"v0.13.0/assertinputs/noinsights/experiment.yaml", "slos", 1},
	} {
		if r := iter8(t, runDirWith(t, tt.file), "assert", "-c", tt.conds); r.code != tt.code {
			t.Errorf("assert -c %s on %s exited %d, want %d:\n%s", tt.conds, tt.file, r.code, tt.code, r.stderr)
		}
	}
}

// iter8 report prints, for the original's result, exactly what the
// original printed: `k report` of v0.13.18 (testdata/output/kreport.txt),
// and the local report of v0.11-v0.13.0 but for the loop count line that
// v0.13.4 added.
func TestOriginalReportText(t *testing.T) {
	needBinary(t)
	t.Parallel()
	dir := runDirWith(t, "v0.13.0/assertinputs/experiment.yaml")
	r := iter8(t, dir, "report")
	if r.code != 0 {
		t.Fatalf("report exited %d: %s", r.code, r.stderr)
	}
	if want := string(originalFile(t, "v0.13.18/output/kreport.txt")); r.stdout != want {
		t.Errorf("report differs from the original's kreport.txt:\n--- got\n%s\n--- want\n%s", r.stdout, want)
	}
	older := strings.Replace(r.stdout, "  Number of completed loops: 0\n", "", 1)
	if want := string(originalFile(t, "v0.13.0/output/report.txt")); older != want {
		t.Errorf("report (without the loops line) differs from the original's report.txt:\n--- got\n%s\n--- want\n%s", older, want)
	}
	r = iter8(t, runDirWith(t, "v0.13.0/assertinputs/experimentWithLowerSLOs.yaml"), "report")
	for _, want := range []string{"  1e+07 <= user/engagement        | true\n", "  user/engagement            | 100000000.00\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("report lacks the original's line %q:\n%s", want, r.stdout)
		}
	}
	r = iter8(t, runDirWith(t, "v0.13.0/assertinputs/noinsights/experiment.yaml"), "report")
	want := "  Number of completed loops: 0\n\nMetrics-based Insights:\n***********************\n\n" +
		"  Insights not found in experiment results. You may need to retry this report at a later time.\n\n"
	if !strings.HasSuffix(r.stdout, want) {
		t.Errorf("report without insights does not end as the original's:\n%q", r.stdout)
	}
}

// The original's Slack and GitHub payload templates (hub chart
// iter8-0.13.7) render what they rendered in the original: .Report has the
// original's keys and the experiment (spec and result), which GitHub
// workflows read from client_payload.
func TestOriginalNotifyPayloads(t *testing.T) {
	needBinary(t)
	t.Parallel()
	target := startTarget(t)
	var (
		mu       sync.Mutex
		received = map[string][]byte{}
	)
	tpl := "hub-iter8-0.13.7/charts/iter8/templates/"
	templates := map[string][]byte{
		"/github.tpl": originalFile(t, tpl+"_payload-github.tpl"),
		"/slack.tpl":  originalFile(t, tpl+"_payload-slack.tpl"),
	}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, ok := templates[r.URL.Path]; ok && r.Method == http.MethodGet {
			_, _ = w.Write(b)
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		received[r.URL.Path] = b
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(recv.Close)

	doc := string(originalFile(t, "v0.13.0/assertinputs/experiment.yaml"))
	doc = strings.Replace(doc, "url: https://httpbin.org/get", "url: "+target.URL()+"/get", 1)
	doc = strings.Replace(doc, "duration: 2s", "duration: 1s", 1)
	// The original's Slack template escapes quotes but not backslashes, so a
	// string holding a quote (these scripts) made invalid JSON in the
	// original as it does here: the scripts lose their quotes.
	doc = strings.ReplaceAll(doc, `echo "SLOs satisfied"`, "echo SLOs satisfied")
	doc = strings.ReplaceAll(doc, `echo "SLOs not satisfied"`, "echo SLOs not satisfied")
	// the tasks the original chart's github and slack wrappers wrote
	doc = strings.Replace(doc, "result:", `  - task: notify
    with:
      url: `+recv.URL+`/repos/o/r/dispatches
      method: POST
      headers:
        Accept: application/vnd.github+json
      payloadTemplateURL: `+recv.URL+`/github.tpl
      softFailure: false
  - task: notify
    with:
      url: `+recv.URL+`/slack
      method: POST
      payloadTemplateURL: `+recv.URL+`/slack.tpl
      softFailure: false
result:`, 1)
	dir := t.TempDir()
	writeExperiment(t, dir, doc)
	if r := iter8(t, dir, "run"); r.code != 0 {
		t.Fatalf("run exited %d:\n%s", r.code, r.stderr)
	}

	type report struct {
		TimeStamp         string `json:"timeStamp"`
		Completed         *bool  `json:"completed"`
		NoTaskFailures    *bool  `json:"noTaskFailures"`
		NumTasks          int    `json:"numTasks"`
		NumCompletedTasks int    `json:"numCompletedTasks"`
		NumLoops          int    `json:"numLoops"`
		Experiment        struct {
			Spec   []map[string]any `json:"spec"`
			Result struct {
				NumCompletedTasks int `json:"numCompletedTasks"`
				Insights          struct {
					NumVersions         int                    `json:"numVersions"`
					NonHistMetricValues []map[string][]float64 `json:"nonHistMetricValues"`
					SLOsSatisfied       struct {
						Upper [][]bool `json:"upper"`
					} `json:"SLOsSatisfied"`
				} `json:"insights"`
			} `json:"result"`
		} `json:"experiment"`
	}
	check := func(name string, raw []byte, notifyTask int) {
		t.Helper()
		var top map[string]json.RawMessage
		if err := json.Unmarshal(raw, &top); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, raw)
		}
		for _, k := range []string{"timeStamp", "completed", "noTaskFailures", "numTasks", "numCompletedTasks", "numLoops", "experiment"} {
			if _, ok := top[k]; !ok {
				t.Errorf("%s lacks the original's field %s", name, k)
			}
		}
		if len(top) > 10 {
			t.Errorf("%s has %d top-level properties; a GitHub client_payload may have 10", name, len(top))
		}
		var rep report
		if err := json.Unmarshal(raw, &rep); err != nil {
			t.Fatal(err)
		}
		// the notification is sent by task notifyTask, before it completes
		if rep.TimeStamp == "" || rep.Completed == nil || *rep.Completed || rep.NoTaskFailures == nil || !*rep.NoTaskFailures ||
			rep.NumTasks != 6 || rep.NumCompletedTasks != notifyTask-1 || rep.NumLoops != 1 {
			t.Errorf("%s: %s", name, raw)
		}
		e := rep.Experiment
		if len(e.Spec) != 6 || e.Spec[0]["task"] != "http" || e.Result.NumCompletedTasks != notifyTask-1 || e.Result.Insights.NumVersions != 1 ||
			len(e.Result.Insights.SLOsSatisfied.Upper) != 6 || len(e.Result.Insights.NonHistMetricValues) != 1 ||
			len(e.Result.Insights.NonHistMetricValues[0]["http/request-count"]) == 0 {
			t.Errorf("%s: experiment %s", name, top["experiment"])
		}
		for i, s := range e.Result.Insights.SLOsSatisfied.Upper {
			if len(s) != 1 || !s[0] {
				t.Errorf("%s: SLO %d satisfied %v", name, i, s)
			}
		}
	}

	var dispatch struct {
		EventType     string          `json:"event_type"`
		ClientPayload json.RawMessage `json:"client_payload"`
	}
	if err := json.Unmarshal(received["/repos/o/r/dispatches"], &dispatch); err != nil || dispatch.EventType != "iter8" {
		t.Fatalf("github dispatch: %v: %s", err, received["/repos/o/r/dispatches"])
	}
	check("client_payload", dispatch.ClientPayload, 5)

	var slack struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(received["/slack"], &slack); err != nil {
		t.Fatalf("slack: %v: %s", err, received["/slack"])
	}
	text, ok := strings.CutPrefix(slack.Text, "Your Iter8 report is ready: ")
	if !ok {
		t.Fatalf("slack text: %q", slack.Text)
	}
	check("slack report", []byte(text), 6)
}

// requestCount is http/request-count of the experiment in dir.
func requestCount(t *testing.T, dir string) float64 {
	t.Helper()
	exp := loadExperiment(t, dir)
	if exp.Result == nil || exp.Result.Insights == nil {
		t.Fatalf("no insights in %s", dir)
	}
	v, _ := exp.Result.Insights.Value("http/request-count", 0)
	return v
}

// The original's chart commands: v0.11's launch with --chartsParentDir and
// --noDownload (space-separated, as its tests gave them) on its own chart
// folder, v0.12+'s --localChart on the hub chart, and hub, which now writes
// the built-in chart for editing.
func TestOriginalChartCommands(t *testing.T) {
	needBinary(t)
	t.Parallel()
	srv := startTarget(t)
	url := srv.URL() + "/get"
	abs := func(p string) string {
		a, err := filepath.Abs(filepath.Join("..", "..", "testdata", "original", p))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	run := func(dir string, want int, args ...string) result {
		t.Helper()
		r := iter8(t, dir, args...)
		if r.code != want {
			t.Fatalf("iter8 %s exited %d, want %d:\n%s", strings.Join(args, " "), r.code, want, r.stderr)
		}
		return r
	}
	completed := func(dir string, tasks int) {
		t.Helper()
		exp := loadExperiment(t, dir)
		if !exp.Completed() || !exp.NoFailure() || len(exp.Spec) != tasks {
			t.Errorf("%s: completed %v, failure %v, %d tasks (want %d)", dir, exp.Completed(), !exp.NoFailure(), len(exp.Spec), tasks)
		}
	}

	// iter8 v0.11.16 cmd/launch_test.go, its chart at the repository root
	v011 := abs("v0.11.16")
	dir := t.TempDir()
	run(dir, 0, "launch", "-c", "iter8", "--chartsParentDir", v011, "--noDownload", "--set", "tasks={http}", "--set", "http.url="+url, "--set", "http.duration=2s")
	completed(dir, 1)
	if n := requestCount(t, dir); n < 1 {
		t.Errorf("request count %v", n)
	}
	dir = t.TempDir()
	run(dir, 0, "launch", "-c", "iter8", "--chartsParentDir", v011, "--noDownload", "--set", "tasks={http,assess}", "--set", "http.duration=2s",
		"-f", abs("v0.13.0/config.yaml"), "--set", "http.url="+url)
	completed(dir, 2)
	run(dir, 0, "assert", "-c", "completed", "-c", "nofailure", "-c", "slos")

	// iter8 v0.13.0 cmd/launch_test.go, on the hub chart 0.13.7
	hubChart := abs("hub-iter8-0.13.7/charts/iter8")
	dir = t.TempDir()
	run(dir, 0, "launch", "-c", hubChart, "--localChart", "--set", "tasks={http,assess}", "--set", "http.duration=2s", "-f", abs("v0.13.0/config.yaml"), "--set", "http.url="+url)
	completed(dir, 2)
	if r := run(dir, 0, "report"); !strings.Contains(r.stdout, "  http/latency-mean (msec) <= 500 | true\n") {
		t.Errorf("report of the hub chart's experiment:\n%s", r.stdout)
	}
	run(dir, 0, "k", "launch", "--dry", "-c", hubChart, "--localChart", "--set", "tasks={http}", "--set", "http.url="+url, "--set", "runner=job")
	if b, err := os.ReadFile(filepath.Join(dir, "manifest.yaml")); err != nil || !strings.Contains(string(b), "kind: Job") || !strings.Contains(string(b), "image: iter8/iter8:0.13") {
		t.Errorf("k launch --dry of the hub chart: %v\n%s", err, b)
	}

	// iter8 v0.11.16 cmd/hub_test.go: hub writes the chart for editing
	parent := t.TempDir()
	run(parent, 0, "hub", "--remoteFolderURL", "github.com/iter8-tools/iter8.git//charts")
	values := filepath.Join(parent, "charts", "iter8", "values.yaml")
	b, err := os.ReadFile(values)
	if err != nil || !strings.Contains(string(b), "\nhttp: {}\n") {
		t.Fatalf("hub wrote no chart: %v", err)
	}
	run(parent, 2, "hub") // never overwrites
	if err := os.WriteFile(values, []byte(strings.Replace(string(b), "\nhttp: {}\n", "\nhttp: {numRequests: 7}\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--chartsParentDir=" + parent, "--noDownload"}, // the = form is no longer ignored
		{"--chartsParentDir", parent, "--noDownload=true"},
		{"--localChart", "-c", filepath.Join(parent, "charts", "iter8")},
	} {
		dir := t.TempDir()
		run(dir, 0, append([]string{"launch", "--set", "tasks={http}", "--set", "http.url=" + url}, args...)...)
		if n := requestCount(t, dir); n != 7 {
			t.Errorf("launch %v: %v requests, want the edited chart's 7", args, n)
		}
	}
	// without --noDownload, a charts folder is refused as the original did;
	// with none, the built-in chart stands in for the remote folder
	run(t.TempDir(), 2, "launch", "--dry", "--chartsParentDir", parent, "--set", "tasks={http}", "--set", "http.url="+url)
	dir = t.TempDir()
	r := run(dir, 0, "launch", "--remoteFolderURL", "github.com/iter8-tools/iter8.git?ref=v0.11.16//charts", "--chartsParentDir", t.TempDir(),
		"--set", "tasks={http}", "--set", "http.url="+url, "--set", "http.numRequests=3")
	if !strings.Contains(r.stderr, "the built-in chart stands in for the remote charts folder") {
		t.Errorf("launch --remoteFolderURL does not say the built-in chart stands in:\n%s", r.stderr)
	}
	if n := requestCount(t, dir); n != 3 {
		t.Errorf("launch with --remoteFolderURL: %v requests, want 3", n)
	}
}
