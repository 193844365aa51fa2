package report_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/golden"
	"iter8.tools/iter8/internal/report"
	"iter8.tools/iter8/internal/slo"
)

// fixtures are experiments recorded by real runs (testdata/fixturegen).
var fixtures = []string{
	"one-version",
	"two-versions",
	"endpoints",
	"grpc",
	"multi-loop",
	"no-data",
	"failed",
	"outage",
	"no-insights",
	"hostile",
	"connection-bound",
	"aborted",
}

// formatFiles are the golden file extensions of each format.
var formatFiles = map[string]string{
	"text":     "txt",
	"html":     "html",
	"json":     "json",
	"junit":    "xml",
	"markdown": "md",
}

func load(t testing.TB, name string) *experiment.Experiment {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := experiment.Decode(b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return exp
}

func render(t testing.TB, format string, exp *experiment.Experiment, o report.Options) []byte {
	t.Helper()
	w, err := report.Lookup(format)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := w(&out, exp, o); err != nil {
		t.Fatalf("%s: %v", format, err)
	}
	return out.Bytes()
}

func TestGolden(t *testing.T) {
	t.Parallel()
	for _, fx := range fixtures {
		for format, ext := range formatFiles {
			t.Run(fx+"."+ext, func(t *testing.T) {
				t.Parallel()
				got := render(t, format, load(t, fx), report.Options{})
				golden.Check(t, filepath.Join("testdata", "golden", fx+"."+ext), got)
			})
		}
	}
}

// A terminal: colours, and tables fitted to its width.
func TestGoldenTerminal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fixture string
		o       report.Options
		file    string
	}{
		{"two-versions", report.Options{Width: 60}, "two-versions.w60.txt"},
		{"endpoints", report.Options{Width: 80, Color: true}, "endpoints.w80.color.txt"},
		{"multi-loop", report.Options{Width: 40}, "multi-loop.w40.txt"},
		{"failed", report.Options{Width: 50}, "failed.w50.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			got := render(t, "text", load(t, tt.fixture), tt.o)
			if tt.o.Width > 0 {
				for i, line := range strings.Split(stripANSI(string(got)), "\n") {
					// only a single word longer than the width may overflow
					if n := len([]rune(line)); n > tt.o.Width && strings.Contains(strings.TrimSpace(line), " | ") {
						t.Errorf("line %d is %d columns wide, more than %d: %q", i+1, n, tt.o.Width, line)
					}
				}
			}
			if tt.o.Color != bytes.Contains(got, []byte("\x1b[")) {
				t.Errorf("colour %v, but escape sequences present: %v", tt.o.Color, !tt.o.Color)
			}
			golden.Check(t, filepath.Join("testdata", "golden", tt.file), got)
		})
	}
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i < len(s) && s[i] != 'm' {
				i++
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// -o yaml gives the stored experiment back.
func TestYAMLIsTheExperiment(t *testing.T) {
	t.Parallel()
	for _, fx := range fixtures {
		t.Run(fx, func(t *testing.T) {
			t.Parallel()
			exp := load(t, fx)
			got := render(t, "yaml", exp, report.Options{})
			want, err := experiment.Encode(exp)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("yaml differs from the stored experiment:\n%s", diff)
			}
			if fx == "no-insights" {
				golden.Check(t, filepath.Join("testdata", "golden", fx+".yaml"), got)
			}
		})
	}
}

func TestUnknownFormat(t *testing.T) {
	t.Parallel()
	_, err := report.Lookup("pdf")
	if err == nil || !strings.Contains(err.Error(), `unknown report format "pdf": expected one of html, json, junit, markdown, text, yaml`) {
		t.Fatalf("error %v", err)
	}
}

// The JSON report keeps its documented shape: every top-level key, and the
// facts tools rely on.
func TestJSONSchema(t *testing.T) {
	t.Parallel()
	var r map[string]any
	if err := json.Unmarshal(render(t, "json", load(t, "two-versions"), report.Options{}), &r); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range r {
		keys = append(keys, k)
	}
	want := []string{"iter8Version", "latency", "load", "loops", "metrics", "schemaVersion", "slos", "startTime", "status", "tasks", "versions"}
	if diff := cmp.Diff(want, sortedStrings(keys)); diff != "" {
		t.Errorf("top-level keys (-want +got):\n%s", diff)
	}
	if r["schemaVersion"] != report.SchemaVersion {
		t.Errorf("schemaVersion %v", r["schemaVersion"])
	}
	var rep report.Report
	if err := json.Unmarshal(render(t, "json", load(t, "two-versions"), report.Options{}), &rep); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"stable (v1)", "candidate (v2)"}, rep.Versions); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}
	for _, s := range rep.SLOs {
		if len(s.Results) != 2 {
			t.Errorf("%s: %d results, want one per version", s.Metric, len(s.Results))
		}
		for _, res := range s.Results {
			if res.Value == nil {
				t.Errorf("%s %s: no value", s.Metric, res.Version)
			}
		}
	}
	for _, m := range rep.Metrics {
		if len(m.Values) != 2 {
			t.Errorf("%s: %d values, want 2", m.Name, len(m.Values))
		}
	}
	if len(rep.Latency) != 2 || rep.Latency[0].Kind != "latency" || rep.Latency[1].Kind != "service-time" {
		t.Errorf("latency: %+v", rep.Latency)
	}
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// Experiments written by the original Iter8 (v0.11-v0.13: booleans instead
// of verdicts, bucket histograms without HDR, values appended per loop)
// render in every format.
func TestOriginalExperimentsRender(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "experiment", "testdata", "compat", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no compat fixtures: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		exp, err := experiment.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, format := range report.FormatNames() {
			t.Run(filepath.Base(f)+"/"+format, func(t *testing.T) {
				t.Parallel()
				out := render(t, format, exp, report.Options{})
				if len(out) == 0 {
					t.Error("empty output")
				}
			})
		}
		if exp.Result.Insights != nil && len(exp.Result.Insights.HistMetricValues) > 0 && len(exp.Result.Insights.HistMetricValues[0]) > 0 {
			page := string(render(t, "html", exp, report.Options{}))
			if !strings.Contains(page, `class="area c0"`) {
				t.Errorf("%s: no histogram drawn from the original's buckets", f)
			}
		}
	}
}

// The JSON report of every fixture matches the published JSON Schema
// (docs/report-schema.json, which allows no undocumented field), and the
// schema does reject a report with an unknown field.
func TestJSONMatchesSchema(t *testing.T) {
	t.Parallel()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	schema, err := c.Compile(filepath.Join("..", "..", "docs", "report-schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fx := range fixtures {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(render(t, "json", load(t, fx), report.Options{})))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(doc); err != nil {
			t.Errorf("%s: %v", fx, err)
		}
	}
	bad, err := jsonschema.UnmarshalJSON(strings.NewReader(`{"schemaVersion": "iter8.report/v1", "status": {"completed": true, "failure": false, "tasks": 0, "completedTasks": 0, "loops": 0, "insights": false, "slosSatisfied": false},
		"tasks": [], "versions": [], "slos": [], "metrics": [], "latency": [], "load": [], "loops": [], "undocumented": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(bad); err == nil {
		t.Error("the schema accepts an undocumented field")
	}
}

// An experiment that has never run (no result at all) renders in every
// format.
func TestExperimentWithoutResult(t *testing.T) {
	t.Parallel()
	exp, err := experiment.Decode([]byte("spec:\n- task: http\n  with: {url: http://127.0.0.1:8080/}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range report.FormatNames() {
		if out := render(t, format, exp, report.Options{}); len(out) == 0 {
			t.Errorf("%s: empty output", format)
		}
	}
	if !bytes.Contains(render(t, "html", exp, report.Options{}), []byte("Experiment has not run yet")) {
		t.Error("the HTML report does not say the experiment has not run")
	}
}

// A load task given its own provider name (canary) has its endpoints found
// as http's are: canary-<endpoint> is an endpoint of canary, in the load
// table and in the latency panels.
func TestEndpointsOfAProviderName(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("testdata", "endpoints.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.NewReplacer("http/", "canary/", "http-", "canary-", "\n      http:\n", "\n      canary:\n").Replace(string(b))
	exp, err := experiment.Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	r := report.New(exp)
	got := map[string]string{}
	for _, l := range r.Load {
		got[l.Provider] = l.Endpoint
	}
	for _, l := range r.Latency {
		if l.Endpoint != got[l.Provider] {
			t.Errorf("latency %s: endpoint %q, the load table says %q", l.Metric, l.Endpoint, got[l.Provider])
		}
	}
	if len(got) < 3 || got["canary"] != "" {
		t.Fatalf("load providers %v, want canary and its endpoints", got)
	}
	for p, ep := range got {
		if p != "canary" && (ep == "" || p != "canary-"+ep) {
			t.Errorf("provider %s: endpoint %q", p, ep)
		}
	}
}

// The loop-by-loop SLO marks of a spec whose SLOs changed between loops
// are each SLO's own: matched by objective, not by position.
func TestLoopOutcomesFollowTheSLOs(t *testing.T) {
	t.Parallel()
	exp := load(t, "multi-loop")
	res := exp.Result
	in := res.Insights
	if len(in.SLOVerdicts) < 2 || len(res.History) == 0 {
		t.Fatalf("the fixture needs two SLOs and a history: %d, %d", len(in.SLOVerdicts), len(res.History))
	}
	keys := experiment.SLOKeys(in.SLOVerdicts)
	h := &res.History[len(res.History)-1]
	// the loop recorded its first two SLOs in the other order
	h.SLOKeys = append([]string{keys[1], keys[0]}, keys[2:]...)
	h.SLOs = [][]slo.Outcome{{slo.Failed}, {slo.Passed}}
	for range keys[2:] {
		h.SLOs = append(h.SLOs, []slo.Outcome{slo.Passed})
	}
	l := report.New(exp).Loops
	got := l[len(l)-1].Outcomes
	if got[0][0] != slo.Passed || got[1][0] != slo.Failed {
		t.Errorf("loop outcomes %v: want the first SLO's (passed) first", got)
	}
}

// Requests that duration-stop ignore left out are said in every format,
// never silently dropped: a target that hung until the end had its hung
// requests left out of the errors and the latency.
func TestIgnoredRequestsSaid(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("testdata", "grpc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := experiment.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	ls := exp.Result.Insights.Load["grpc"]
	if ls == nil {
		t.Fatal("the fixture has no grpc load")
	}
	ls.Ignored = 99
	for _, format := range []string{"text", "markdown", "html"} {
		// (markdown escapes the parentheses)
		if out := render(t, format, exp, report.Options{}); !bytes.Contains(out, []byte("99 requests in flight when the duration ended were left out of every figure")) {
			t.Errorf("%s: no note on the 99 requests left out", format)
		}
	}
	if out := render(t, "json", exp, report.Options{}); !bytes.Contains(out, []byte(`"ignored": 99`)) {
		t.Error("json: no ignored count")
	}
}

// A merged history entry (older loops) in which an SLO passed in its last
// loop but not in all of them is marked as mixed in the text loops table,
// as the HTML strip shows it, not as passed.
func TestMergedEntryMarkedMixed(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("testdata", "outage.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := experiment.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	h := exp.Result.History
	if len(h) != 3 || len(h[0].SLOs) != 2 || h[0].SLOs[0][0] != slo.Passed || h[0].SLOs[1][0] != slo.Passed {
		t.Fatalf("the fixture's history changed: %d entries", len(h))
	}
	// loops 1-10 merged: the first SLO passed in 8 of them, the second in all
	h[0].Loop, h[0].Loops, h[0].SLOsPassed = 10, 10, [][]int{{8}, {10}}
	h[1].Loop, h[2].Loop, exp.Result.NumLoops = 11, 12, 12
	out := string(render(t, "text", exp, report.Options{}))
	i := strings.Index(out, "SLO outcomes over loops")
	if i < 0 {
		t.Fatalf("no loops table:\n%s", out)
	}
	table := out[i:]
	if !strings.Contains(table, "~ passed in some of the merged loops") {
		t.Errorf("the legend has no mixed mark:\n%s", table)
	}
	var marks []string
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Split(line, "|"); len(f) == 2 && strings.Contains(f[0], "<=") {
			marks = append(marks, strings.TrimSpace(f[1]))
		}
	}
	if len(marks) != 2 || !strings.HasPrefix(marks[0], "~") || !strings.HasPrefix(marks[1], "+") {
		t.Errorf("marks %q: want the first SLO's merged entry mixed (~), the second's passed (+)\n%s", marks, table)
	}
}

// A failure that a window of loops decided, on a value within the limit,
// says why in every format: the table alone showed "false (0.01)" for an
// error rate at most 0.05.
func TestWindowFailureSaysWhy(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("testdata", "outage.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := experiment.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	vs := exp.Result.Insights.SLOVerdicts
	if len(vs) == 0 || len(vs[0].Versions) != 1 {
		t.Fatal("the fixture has no verdict")
	}
	const why = "not satisfied in loop 2: value 2 is above the limit 0, in the window of 3 loops"
	v := 0.0
	vs[0].Versions[0] = slo.Result{Outcome: slo.Failed, Loop: slo.Passed, Reason: why, Value: &v}
	for _, format := range []string{"text", "markdown", "html"} {
		if out := render(t, format, exp, report.Options{Width: 400}); !bytes.Contains(out, []byte("in the window of 3 loops")) {
			t.Errorf("%s: the window's reason is missing", format)
		}
	}
}
