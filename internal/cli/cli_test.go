package cli_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"iter8.tools/iter8/internal/cli"
	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/golden"
	"iter8.tools/iter8/internal/store"
)

// cmdTestCase is one run of iter8 in process, through cli.Main, as helm's
// cmdTestCase: the arguments, the exit code it must return, and the golden
// file holding its normalised exit code, stdout and stderr.
type cmdTestCase struct {
	name string
	// args may use $DIR (a fresh run directory) and $URL (an in-process
	// HTTP target on 127.0.0.1).
	args     []string
	golden   string
	wantCode int
	// files are written into $DIR before the command runs (with the same
	// substitutions as args): name -> contents, or "@fixture.yaml" to copy
	// testdata/fixture.yaml.
	files map[string]string
	// measured outputs hold measured latencies, rates and counts: their
	// numbers and table padding are masked before the golden comparison.
	measured bool
	// before are commands run first, in $DIR, each of which must succeed.
	before [][]string
	// check inspects $DIR after the command.
	check func(t *testing.T, dir string)
}

// target is an in-process HTTP service: /ok answers 200, anything else 500.
func target(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// iter8 runs cli.Main with args and returns the exit code, stdout and stderr.
func iter8(ctx context.Context, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cli.Main(ctx, args, cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, out.String(), errb.String()
}

var (
	slogTime    = regexp.MustCompile(`(?m)^time=\S+ `)
	goVersion   = regexp.MustCompile(`GoVersion:"[^"]*"`)
	gitCommit   = regexp.MustCompile(`GitCommit:"[^"]*"`)
	shortCommit = regexp.MustCompile(`(v\d+\.\d+\.\d+)\+g[0-9a-f]{7}`)
	seconds     = regexp.MustCompile(`seconds=[0-9.e+-]+`)
	tmpSuffix   = regexp.MustCompile(`\.tmp-\d+`)
	decimal     = regexp.MustCompile(`\b\d+\.\d+(e[+-]?\d+)?\b`)
	percent     = regexp.MustCompile(`\b\d+%`)
	rate        = regexp.MustCompile(`\brate=[0-9.e+-]+`)
	protected   = strings.NewReplacer("127.0.0.1", "\x00localhost\x00", "HTTP/1.1", "\x00http11\x00")
	unprotected = strings.NewReplacer("\x00localhost\x00", "127.0.0.1", "\x00http11\x00", "HTTP/1.1")
	padding     = regexp.MustCompile(` {2,}`)
	rule        = regexp.MustCompile(`-{3,}`)
	stars       = regexp.MustCompile(`\*{3,}`)
)

// normalise replaces what differs between runs and machines: the run
// directory, the home folder, the target's address, temporary file names,
// log times, task durations, the Go version and commit and, for measured
// outputs, every decimal number (latencies, rates), percentage (CPU) and
// the table padding that follows from the numbers' widths. Integers
// (request counts in logs, loops, status codes) stay.
func normalise(s, dir, url string, measured bool) string {
	s = strings.ReplaceAll(s, dir, "$DIR")
	if home, err := os.UserHomeDir(); err == nil && len(home) > 1 {
		s = strings.ReplaceAll(s, home+"/", "$HOME/") // kube flags' default cache folder
	}
	if url != "" {
		s = strings.ReplaceAll(s, strings.TrimPrefix(url, "http://"), "$TARGET")
	}
	s = slogTime.ReplaceAllString(s, "")
	s = goVersion.ReplaceAllString(s, `GoVersion:"$$GO"`)
	s = gitCommit.ReplaceAllString(s, `GitCommit:"$$COMMIT"`)
	s = shortCommit.ReplaceAllString(s, "$1")
	s = seconds.ReplaceAllString(s, "seconds=$$SECONDS")
	s = tmpSuffix.ReplaceAllString(s, ".tmp-N")
	if measured {
		s = protected.Replace(s)
		s = rate.ReplaceAllString(s, "rate=N")
		s = decimal.ReplaceAllString(s, "N")
		s = percent.ReplaceAllString(s, "N%")
		s = unprotected.Replace(s)
		s = padding.ReplaceAllString(s, " ")
		s = rule.ReplaceAllString(s, "---")
		s = stars.ReplaceAllString(s, "***")
	}
	return s
}

func expand(s, dir, url string) string {
	return strings.NewReplacer("$DIR", dir, "$URL", url).Replace(s)
}

func expandAll(args []string, dir, url string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = expand(a, dir, url)
	}
	return out
}

func runTestCmd(t *testing.T, tests []cmdTestCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			url := target(t)
			for name, content := range tc.files {
				b := []byte(expand(content, dir, url))
				if fixture, ok := strings.CutPrefix(content, "@"); ok {
					var err error
					if b, err = os.ReadFile(filepath.Join("testdata", fixture)); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			for _, b := range tc.before {
				if code, _, stderr := iter8(ctx, expandAll(b, dir, url)...); code != 0 {
					t.Fatalf("before: iter8 %s: exit %d:\n%s", strings.Join(b, " "), code, stderr)
				}
			}
			args := expandAll(tc.args, dir, url)
			code, stdout, stderr := iter8(ctx, args...)
			if code != tc.wantCode {
				t.Errorf("iter8 %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), code, tc.wantCode, stdout, stderr)
			}
			got := fmt.Sprintf("exit: %d\n-- stdout --\n%s-- stderr --\n%s", code,
				normalise(stdout, dir, url, tc.measured), normalise(stderr, dir, url, tc.measured))
			golden.Check(t, filepath.Join("testdata", tc.golden), []byte(got))
			if tc.check != nil {
				tc.check(t, dir)
			}
		})
	}
}

// stored loads the experiment in dir.
func stored(t *testing.T, dir string) *experiment.Experiment {
	t.Helper()
	exp, err := store.NewFile(dir).Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return exp
}

// metricValue is the latest value of a metric of version 0.
func metricValue(t *testing.T, exp *experiment.Experiment, name string) float64 {
	t.Helper()
	if exp.Result == nil || exp.Result.Insights == nil || len(exp.Result.Insights.NonHistMetricValues) == 0 {
		t.Fatalf("no metric values in the result")
	}
	vs := exp.Result.Insights.NonHistMetricValues[0][name]
	if len(vs) == 0 {
		t.Fatalf("no value of %s", name)
	}
	return vs[len(vs)-1]
}

// completed checks that the experiment in dir completed its loop without
// failure and sent n requests.
func completed(n float64) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		exp := stored(t, dir)
		if !exp.Completed() || exp.Result.Failure {
			t.Errorf("experiment: completed %t, failure %t (%s)", exp.Completed(), exp.Result.Failure, exp.Result.FailureReason)
		}
		if n > 0 {
			if got := metricValue(t, exp, "http/request-count"); got != n {
				t.Errorf("http/request-count = %g, want %g", got, n)
			}
		}
	}
}

// fileGolden compares a file the command wrote with a golden file.
func fileGolden(name, goldenName string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		golden.Check(t, filepath.Join("testdata", goldenName), []byte(normalise(string(b), dir, "", false)))
	}
}

// noFile checks that the command wrote no file name into dir.
func noFile(name string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s exists (stat: %v), want nothing written", name, err)
		}
	}
}

// keptSecret checks that the literal secret given for the values at key
// is kept in experiment.secrets/key, a 0600 file, and is nowhere in
// experiment.yaml, which references the file.
func keptSecret(key, literal string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		t.Helper()
		p := filepath.Join(dir, store.KeptDir, key)
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", p, fi.Mode().Perm())
		}
		if b, _ := os.ReadFile(p); string(b) != literal {
			t.Errorf("%s holds %q, want the literal given", p, b)
		}
		doc, err := os.ReadFile(filepath.Join(dir, store.FileName))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(doc), literal) {
			t.Errorf("experiment.yaml holds the literal secret:\n%s", doc)
		}
		if !strings.Contains(string(doc), "${file:"+p+"}") {
			t.Errorf("experiment.yaml does not reference %s:\n%s", p, doc)
		}
	}
}

// httpValues are the values of a small, closed-loop http + assess
// experiment against the in-process target: 10 requests, one connection.
var httpValues = []string{
	"--set", "tasks={http,assess}",
	"--set", "http.url=$URL/ok",
	"--set", "http.numRequests=10",
	"--set", "http.qps=0",
	"--set", "http.connections=1",
	"--set", "assess.SLOs.upper.http/error-count=0",
}

func withArgs(base []string, more ...string) []string {
	return append(append([]string{}, base...), more...)
}

func TestRootAndVersion(t *testing.T) {
	t.Parallel()
	runTestCmd(t, []cmdTestCase{
		{name: "help", args: []string{"--help"}, golden: "root-help.golden"},
		{name: "no args shows help", args: nil, golden: "root-help.golden"},
		{name: "unknown command suggests one", args: []string{"lanch"}, golden: "unknown-command.golden", wantCode: 2},
		{name: "unknown flag", args: []string{"--bogus"}, golden: "unknown-flag.golden", wantCode: 2},
		{name: "bad loglevel", args: []string{"-l", "loud", "version"}, golden: "bad-loglevel.golden", wantCode: 2},
		{name: "version", args: []string{"version"}, golden: "version.golden"},
		{name: "version short", args: []string{"version", "--short"}, golden: "version-short.golden"},
		{name: "version with an argument", args: []string{"version", "now"}, golden: "version-arg.golden", wantCode: 2},
		{name: "completion bash", args: []string{"completion", "bash"}, golden: "completion-bash.golden"},
		{name: "completion zsh", args: []string{"completion", "zsh"}, golden: "completion-zsh.golden"},
		{name: "completion fish", args: []string{"completion", "fish"}, golden: "completion-fish.golden"},
		{name: "completion powershell", args: []string{"completion", "powershell"}, golden: "completion-powershell.golden"},
		// cobra's completion command reads an unknown shell as no subcommand
		// and prints its help with exit 0, not the usage error (2) the
		// other commands give: recorded as it is.
		{name: "completion of an unknown shell", args: []string{"completion", "tcsh"}, golden: "completion-unknown.golden"},
	})
}

// Every command's help: its description, examples and flags.
func TestHelp(t *testing.T) {
	t.Parallel()
	var tests []cmdTestCase
	for _, c := range [][]string{
		{"launch"}, {"gen"}, {"run"}, {"report"}, {"assert"}, {"version"}, {"demo"}, {"completion", "bash"},
		{"k", "launch"}, {"k", "run"}, {"k", "assert"}, {"k", "report"}, {"k", "log"}, {"k", "delete"},
	} {
		tests = append(tests, cmdTestCase{
			name:   strings.Join(c, " "),
			args:   withArgs(c, "--help"),
			golden: "help-" + strings.Join(c, "-") + ".golden",
		})
	}
	runTestCmd(t, tests)
}

func TestGen(t *testing.T) {
	t.Parallel()
	runTestCmd(t, []cmdTestCase{
		{
			name: "set values", golden: "gen.golden",
			args:  withArgs(httpValues, "gen", "--runDir", "$DIR", "--set", "http.url=http://127.0.0.1:9/ok", "--set", "http.percentiles={97.5}"),
			check: fileGolden("experiment.yaml", "gen-experiment.yaml"),
		},
		{
			name: "values file", golden: "gen-values-file.golden",
			args:  []string{"gen", "--runDir", "$DIR", "-f", "$DIR/values.yaml"},
			files: map[string]string{"values.yaml": "tasks: [http, assess]\nhttp:\n  url: http://127.0.0.1:9/get\n  qps: 12.5\nassess:\n  SLOs:\n    upper:\n      http/latency-p99: 100\n"},
			check: fileGolden("experiment.yaml", "gen-values-file-experiment.yaml"),
		},
		{
			name: "unknown field", golden: "gen-unknown-field.golden", wantCode: 2,
			args:  []string{"gen", "--runDir", "$DIR", "--set", "tasks={http}", "--set", "http.url=http://127.0.0.1:9/", "--set", "http.qsp=1"},
			check: noFile("experiment.yaml"),
		},
		{
			name: "missing values file", golden: "gen-missing-values.golden", wantCode: 2,
			args: []string{"gen", "--runDir", "$DIR", "-f", "$DIR/nothing.yaml"},
		},
		{
			name: "unknown chart", golden: "gen-unknown-chart.golden", wantCode: 2,
			args: []string{"gen", "--runDir", "$DIR", "--chartName", "other"},
		},
		{
			name: "literal secret kept", golden: "gen-literal-secret.golden",
			args:  []string{"gen", "--runDir", "$DIR", "--set", "tasks={http}", "--set", "http.url=http://127.0.0.1:9/", "--set", "http.headers.Authorization=Bearer abc123"},
			check: keptSecret("http.headers.Authorization", "Bearer abc123"),
		},
		{
			// The http task does not resolve references in its url: a
			// password there cannot be kept aside, and is refused.
			name: "password in a load url refused", golden: "gen-url-password.golden", wantCode: 2,
			args:  []string{"gen", "--runDir", "$DIR", "--set", "tasks={http}", "--set", "http.url=http://user:pa55word@127.0.0.1:9/"},
			check: noFile("experiment.yaml"),
		},
	})
}

func TestLaunchAndRun(t *testing.T) {
	t.Parallel()
	const runDoc = "spec:\n- task: http\n  with:\n    url: $URL/ok\n    numRequests: 10\n    qps: 0\n    connections: 1\n- task: assess\n  with:\n    SLOs:\n      upper:\n      - {metric: http/error-count, limit: 0}\n"
	runTestCmd(t, []cmdTestCase{
		{
			name: "launch", golden: "launch.golden", measured: true,
			args:  withArgs(httpValues, "launch", "--runDir", "$DIR"),
			check: completed(10),
		},
		{
			name: "launch two loops", golden: "launch-loops.golden", measured: true,
			args: withArgs(httpValues, "launch", "--runDir", "$DIR", "--loops", "2"),
			check: func(t *testing.T, dir string) {
				if n := stored(t, dir).Result.NumLoops; n != 2 {
					t.Errorf("numLoops = %d, want 2", n)
				}
			},
		},
		{
			name: "launch dry", golden: "launch-dry.golden",
			args: withArgs(httpValues, "launch", "--dry", "--runDir", "$DIR"),
			check: func(t *testing.T, dir string) {
				if exp := stored(t, dir); exp.Result != nil && exp.Result.NumLoops != 0 {
					t.Errorf("a dry launch ran %d loops", exp.Result.NumLoops)
				}
			},
		},
		{
			name: "launch against a refusing target fails", golden: "launch-refused.golden", wantCode: 1,
			args: []string{"launch", "--runDir", "$DIR", "--set", "tasks={http}", "--set", "http.url=http://127.0.0.1:1/", "--set", "http.numRequests=1"},
			check: func(t *testing.T, dir string) {
				if exp := stored(t, dir); !exp.Result.Failure {
					t.Errorf("failure = false, want true")
				}
			},
		},
		{
			name: "launch with negative loops", golden: "launch-bad-loops.golden", wantCode: 2,
			args:  withArgs(httpValues, "launch", "--runDir", "$DIR", "--loops", "-1"),
			check: noFile("experiment.yaml"),
		},
		{
			name: "launch with an invalid value", golden: "launch-invalid.golden", wantCode: 2,
			args:  withArgs(httpValues, "launch", "--runDir", "$DIR", "--set", "http.qps=-5"),
			check: noFile("experiment.yaml"),
		},
		{
			name: "run", golden: "run.golden", measured: true,
			args:  []string{"run", "--runDir", "$DIR"},
			files: map[string]string{"experiment.yaml": runDoc},
			check: completed(10),
		},
		{
			name: "run reusing the result", golden: "run-reuse.golden", measured: true,
			before: [][]string{{"run", "--runDir", "$DIR"}},
			args:   []string{"run", "--runDir", "$DIR", "--reuseResult"},
			files:  map[string]string{"experiment.yaml": runDoc},
			check: func(t *testing.T, dir string) {
				if n := stored(t, dir).Result.NumLoops; n != 2 {
					t.Errorf("numLoops = %d, want 2 (the stored loop and this one)", n)
				}
			},
		},
		{
			name: "run with errors from the target", golden: "run-errors.golden", measured: true,
			args:  []string{"run", "--runDir", "$DIR"},
			files: map[string]string{"experiment.yaml": strings.ReplaceAll(runDoc, "$URL/ok", "$URL/fail\n    allowInitialErrors: true")},
			check: func(t *testing.T, dir string) {
				if got := metricValue(t, stored(t, dir), "http/error-count"); got != 10 {
					t.Errorf("http/error-count = %g, want 10", got)
				}
			},
		},
		{
			name: "run without an experiment", golden: "run-missing.golden", wantCode: 2,
			args: []string{"run", "--runDir", "$DIR"},
		},
		{
			name: "run an invalid experiment", golden: "run-invalid.golden", wantCode: 2,
			args:  []string{"run", "--runDir", "$DIR"},
			files: map[string]string{"experiment.yaml": "spec:\n- task: htp\n  with: {url: http://127.0.0.1:9/}\n"},
		},
		{
			name: "run a file that is not YAML", golden: "run-not-yaml.golden", wantCode: 2,
			args:  []string{"run", "--runDir", "$DIR"},
			files: map[string]string{"experiment.yaml": "this: [is not\n  valid"},
		},
		{
			name: "run with a bad interval", golden: "run-bad-interval.golden", wantCode: 2,
			args:  []string{"run", "--runDir", "$DIR", "--interval", "-1s"},
			files: map[string]string{"experiment.yaml": runDoc},
		},
	})
}

func TestReport(t *testing.T) {
	t.Parallel()
	fixture := map[string]string{"experiment.yaml": "@one-version.yaml"}
	var tests []cmdTestCase
	for _, format := range []string{"text", "html", "markdown", "json", "junit", "yaml"} {
		tests = append(tests, cmdTestCase{
			name: format, golden: "report-" + format + ".golden",
			args: []string{"report", "--runDir", "$DIR", "-o", format}, files: fixture,
		})
	}
	tests = append(tests,
		cmdTestCase{
			name: "text is the default", golden: "report-text.golden",
			args: []string{"report", "--runDir", "$DIR"}, files: fixture,
		},
		cmdTestCase{
			name: "two versions", golden: "report-two-versions.golden",
			args: []string{"report", "--runDir", "$DIR"}, files: map[string]string{"experiment.yaml": "@two-versions.yaml"},
		},
		cmdTestCase{
			name: "failed experiment", golden: "report-failed.golden",
			args: []string{"report", "--runDir", "$DIR", "-o", "markdown"}, files: map[string]string{"experiment.yaml": "@failed.yaml"},
		},
		cmdTestCase{
			name: "output file", golden: "report-output-file.golden",
			args: []string{"report", "--runDir", "$DIR", "-o", "markdown", "--output-file", "$DIR/report.md"}, files: fixture,
			check: func(t *testing.T, dir string) {
				b, err := os.ReadFile(filepath.Join("testdata", "report-markdown.golden"))
				if err != nil {
					t.Fatal(err)
				}
				_, want, _ := strings.Cut(string(b), "-- stdout --\n")
				want, _, _ = strings.Cut(want, "-- stderr --\n")
				got, err := os.ReadFile(filepath.Join(dir, "report.md"))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != want {
					t.Errorf("report.md differs from the markdown report on stdout")
				}
			},
		},
		cmdTestCase{
			name: "output file in a missing folder", golden: "report-output-file-missing.golden", wantCode: 2,
			args: []string{"report", "--runDir", "$DIR", "--output-file", "$DIR/no/such/report.txt"}, files: fixture,
		},
		cmdTestCase{
			name: "unknown format", golden: "report-unknown-format.golden", wantCode: 2,
			args: []string{"report", "--runDir", "$DIR", "-o", "pdf"}, files: fixture,
		},
		cmdTestCase{
			name: "no experiment", golden: "report-missing.golden", wantCode: 2,
			args: []string{"report", "--runDir", "$DIR"},
		},
	)
	runTestCmd(t, tests)
}

func TestAssert(t *testing.T) {
	t.Parallel()
	one := map[string]string{"experiment.yaml": "@one-version.yaml"}
	two := map[string]string{"experiment.yaml": "@two-versions.yaml"}
	failed := map[string]string{"experiment.yaml": "@failed.yaml"}
	// an experiment launched against the in-process target: its one SLO,
	// no errors, holds
	launched := [][]string{withArgs(httpValues, "launch", "--runDir", "$DIR")}
	running := map[string]string{"experiment.yaml": "spec:\n- task: assess\n  with: {SLOs: {upper: [{metric: http/error-count, limit: 0}]}}\n- task: assess\n  with: {SLOs: {upper: [{metric: http/error-count, limit: 0}]}}\nresult:\n  startTime: 2026-11-27T10:00:00Z\n  numLoops: 1\n  numCompletedTasks: 1\n  failure: false\n  iter8Version: v0.14\n"}
	// a judged loop, then the spec edited: a second SLO no loop judged; an
	// invalid verdict kept without a value
	judged := "result:\n  startTime: 2026-11-27T10:00:00Z\n  numLoops: 1\n  numCompletedTasks: 1\n  failure: false\n  iter8Version: v0.14\n" +
		"  insights:\n    numVersions: 1\n    sloVerdicts:\n    - {direction: upper, limit: 0, metric: http/error-count, versions: [{outcome: passed, value: 0}]}\n"
	edited := map[string]string{"experiment.yaml": "spec:\n- task: assess\n  with: {SLOs: {upper: [{metric: http/error-count, limit: 0}, {metric: http/latency-p99, limit: 100}]}}\n" + judged}
	broken := map[string]string{"experiment.yaml": "spec:\n- task: assess\n  with: {SLOs: {upper: [{metric: http/error-count}]}}\n" + judged}
	// a spec whose load task has generator pods (valid only in an Indexed
	// Job) still declares its SLOs to an assert run anywhere
	distributed := map[string]string{"experiment.yaml": "spec:\n- task: http\n  with: {url: http://127.0.0.1:1/, replicas: 4}\n- task: assess\n  with: {SLOs: {upper: [{metric: http/error-count, limit: 0}]}}\n" + judged}
	invalid := map[string]string{"experiment.yaml": "spec:\n- task: assess\n  with: {SLOs: {upper: [{metric: http/error-count, limit: 0}]}}\n" +
		strings.Replace(judged, "{outcome: passed, value: 0}", "{outcome: invalid, reason: invalid run}", 1)}
	runTestCmd(t, []cmdTestCase{
		{name: "slos of an edited spec", args: []string{"assert", "--runDir", "$DIR", "-c", "slos"}, files: edited, golden: "assert-slos-edited.golden", wantCode: 1},
		{name: "slos of an invalid spec", args: []string{"assert", "--runDir", "$DIR", "-c", "slos"}, files: broken, golden: "assert-slos-invalid-spec.golden", wantCode: 1},
		{name: "slos of a distributed spec", args: []string{"assert", "--runDir", "$DIR", "-c", "slos"}, files: distributed, golden: "assert-slos-distributed.golden"},
		{name: "an invalid verdict without a value", args: []string{"assert", "--runDir", "$DIR", "-c", "slos"}, files: invalid, golden: "assert-slos-invalid-no-value.golden", wantCode: 1},
		{name: "completed", args: []string{"assert", "--runDir", "$DIR", "-c", "completed"}, files: one, golden: "assert-completed.golden"},
		{name: "nofailure", args: []string{"assert", "--runDir", "$DIR", "-c", "nofailure"}, files: one, golden: "assert-nofailure.golden"},
		{name: "slos", args: []string{"assert", "--runDir", "$DIR", "-c", "slos"}, before: launched, golden: "assert-slos.golden"},
		{name: "all conditions", args: []string{"assert", "--runDir", "$DIR", "-c", "completed,nofailure,slos"}, before: launched, golden: "assert-all.golden"},
		{name: "all conditions with a timeout", args: []string{"assert", "--runDir", "$DIR", "-c", "completed,nofailure,slos", "--timeout", "1m"}, before: launched, golden: "assert-all.golden"},
		{name: "slos of one version", args: []string{"assert", "--runDir", "$DIR", "-c", "slos"}, files: one, golden: "assert-slos-one-version.golden", wantCode: 1},
		{name: "slos not satisfied", args: []string{"assert", "--runDir", "$DIR", "-c", "completed", "-c", "slos"}, files: two, golden: "assert-slos-fail.golden", wantCode: 1},
		{name: "failure", args: []string{"assert", "--runDir", "$DIR", "-c", "completed", "-c", "nofailure"}, files: failed, golden: "assert-failure.golden", wantCode: 1},
		{name: "not completed", args: []string{"assert", "--runDir", "$DIR", "-c", "completed"}, files: running, golden: "assert-not-completed.golden", wantCode: 1},
		{name: "unknown condition", args: []string{"assert", "--runDir", "$DIR", "-c", "fast"}, files: one, golden: "assert-unknown.golden", wantCode: 2},
		{name: "bad interval", args: []string{"assert", "--runDir", "$DIR", "-c", "completed", "--interval", "0s"}, files: one, golden: "assert-bad-interval.golden", wantCode: 2},
		{name: "negative timeout", args: []string{"assert", "--runDir", "$DIR", "-c", "completed", "--timeout", "-5s"}, files: one, golden: "assert-negative-timeout.golden", wantCode: 2},
		{name: "no experiment", args: []string{"assert", "--runDir", "$DIR", "-c", "completed"}, golden: "assert-missing.golden", wantCode: 2},
	})
}

// The demo runs against its in-process services; a few requests in closed
// loop and generous limits keep its verdicts independent of machine load.
func TestDemo(t *testing.T) {
	t.Parallel()
	quick := []string{"demo", "--runDir", "$DIR", "--latency", "0", "--error-rate", "0"}
	runTestCmd(t, []cmdTestCase{
		{
			name: "http", golden: "demo.golden", measured: true,
			args: withArgs(quick, "--set", "http.numRequests=20", "--set", "http.qps=0",
				"--set", "assess.SLOs.upper.http/latency-mean=60000", "--set", "assess.SLOs.upper.http/latency-p99=60000"),
			check: completed(20),
		},
		{
			name: "grpc", golden: "demo-grpc.golden", measured: true,
			args: withArgs(quick, "--grpc", "--set", "grpc.duration=null", "--set", "grpc.total=20", "--set", "grpc.rps=0",
				"--set", "assess.SLOs.upper.grpc/latency/mean=60000", "--set", "assess.SLOs.upper.grpc/latency/p99=60000"),
			check: func(t *testing.T, dir string) {
				exp := stored(t, dir)
				if !exp.Completed() || exp.Result.Failure {
					t.Errorf("experiment: completed %t, failure %t (%s)", exp.Completed(), exp.Result.Failure, exp.Result.FailureReason)
				}
				if got := metricValue(t, exp, "grpc/request-count"); got != 20 {
					t.Errorf("grpc/request-count = %g, want 20", got)
				}
			},
		},
		{
			name: "an SLO that fails", golden: "demo-slo-fails.golden", measured: true,
			args: withArgs(quick, "--set", "http.numRequests=20", "--set", "http.qps=0",
				"--set", "assess.SLOs.upper.http/latency-mean=60000", "--set", "assess.SLOs.upper.http/latency-p99=60000",
				"--set", "assess.SLOs.lower.http/request-count=21"),
			check: completed(20),
		},
		{
			name: "invalid value", golden: "demo-invalid.golden", wantCode: 2,
			args: withArgs(quick, "--set", "http.qps=-5"),
		},
		{
			name: "negative loops", golden: "demo-bad-loops.golden", wantCode: 2,
			args: withArgs(quick, "--loops", "-1"),
		},
	})
}

// lineWriter hands every write to a channel, so a test can wait for output
// without sleeping.
type lineWriter chan string

func (w lineWriter) Write(p []byte) (int, error) {
	w <- string(p)
	return len(p), nil
}

// demo --serve serves until its context ends and then exits 0.
func TestDemoServe(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(lineWriter, 16)
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"demo", "--serve", "--latency", "0", "--error-rate", "0"}, cli.Streams{In: strings.NewReader(""), Out: out, Err: &errb})
	}()
	var line string
	select {
	case line = <-out:
	case code := <-done:
		t.Fatalf("demo --serve exited %d before serving: %s", code, errb.String())
	case <-time.After(time.Minute):
		t.Fatal("demo --serve printed nothing within a minute")
	}
	m := regexp.MustCompile(`^demo HTTP service listening on (http://127\.0\.0\.1:\d+), gRPC service on 127\.0\.0\.1:\d+ \(Ctrl-C to stop\)\n$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("first output %q, want the services' addresses", line)
	}
	resp, err := http.Get(m[1] + "/demo")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /demo: %s", resp.Status)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("demo --serve exited %d after its context ended, want 0: %s", code, errb.String())
	}
}

// The k commands without a cluster: every failure is caught before a
// connection is attempted, or names the kubeconfig that cannot be read.
func TestKWithoutCluster(t *testing.T) {
	t.Parallel()
	noKube := []string{"--kubeconfig", "$DIR/no-kubeconfig"}
	k := func(args ...string) []string { return withArgs(append([]string{"k"}, args...), noKube...) }
	// a kubeconfig whose server refuses connections: validation happens
	// before any request
	kubeconfig := map[string]string{"kubeconfig": `apiVersion: v1
kind: Config
clusters:
- name: none
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: none
  user: {token: "${env:NOT_USED}"}
contexts:
- name: none
  context: {cluster: none, user: none, namespace: team}
current-context: none
`}
	dead := func(args ...string) []string {
		return withArgs(append([]string{"k"}, args...), "--kubeconfig", "$DIR/kubeconfig")
	}
	runTestCmd(t, []cmdTestCase{
		{name: "help", args: []string{"k"}, golden: "k-help.golden"},
		{name: "unknown subcommand", args: []string{"k", "lanch"}, golden: "k-unknown.golden", wantCode: 2},
		{name: "bad group", args: k("report", "-g", "Bad_Group"), golden: "k-bad-group.golden", wantCode: 2},
		{name: "report without kubeconfig", args: k("report"), golden: "k-report-no-kubeconfig.golden", wantCode: 2},
		{name: "assert without kubeconfig", args: k("assert", "-c", "completed"), golden: "k-assert-no-kubeconfig.golden", wantCode: 2},
		{name: "assert bad interval", args: k("assert", "-c", "completed", "--interval", "0s"), golden: "k-assert-bad-interval.golden", wantCode: 2},
		{name: "run without kubeconfig", args: k("run"), golden: "k-run-no-kubeconfig.golden", wantCode: 2},
		{name: "log without kubeconfig", args: k("log"), golden: "k-log-no-kubeconfig.golden", wantCode: 2},
		{name: "delete without kubeconfig", args: k("delete"), golden: "k-delete-no-kubeconfig.golden", wantCode: 2},
		{name: "launch without kubeconfig", args: k("launch", "--set", "tasks={http}", "--set", "http.url=http://127.0.0.1:9/"), golden: "k-launch-no-kubeconfig.golden", wantCode: 2},
		{name: "launch bad runner", args: dead("launch", "--set", "tasks={http}", "--set", "http.url=http://127.0.0.1:9/", "--set", "runner=pod"), files: kubeconfig, golden: "k-launch-bad-runner.golden", wantCode: 2},
		{name: "launch cronjob without schedule", args: dead("launch", "--set", "tasks={http}", "--set", "http.url=http://127.0.0.1:9/", "--set", "runner=cronjob"), files: kubeconfig, golden: "k-launch-no-schedule.golden", wantCode: 2},
		{name: "launch unknown field", args: dead("launch", "--set", "tasks={http}", "--set", "http.url=http://127.0.0.1:9/", "--set", "http.qsp=1"), files: kubeconfig, golden: "k-launch-unknown-field.golden", wantCode: 2},
		{name: "launch dry", args: dead("launch", "--dry", "--runDir", "$DIR", "--set", "tasks={http}", "--set", "http.url=http://127.0.0.1:9/", "--set", "runner=job"), files: kubeconfig, golden: "k-launch-dry.golden",
			check: fileGolden("manifest.yaml", "k-launch-dry-manifest.yaml")},
		{name: "report from an unreachable server", args: dead("report"), files: kubeconfig, golden: "k-report-refused.golden", wantCode: 3},
		{name: "assert from an unreachable server", args: dead("assert", "-c", "completed"), files: kubeconfig, golden: "k-assert-refused.golden", wantCode: 3},
		{name: "launch bad flag", args: k("launch", "--dyr"), golden: "k-launch-bad-flag.golden", wantCode: 2},
	})
}

// assert --timeout gives up at its deadline, not at the first check after
// it: a 300 ms timeout with checks every 10 s returns long before 10 s.
func TestAssertTimeoutIsADeadline(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	running := "spec:\n- task: assess\n  with: {SLOs: {upper: [{metric: http/error-count, limit: 0}]}}\nresult:\n  startTime: 2026-11-27T10:00:00Z\n  numLoops: 1\n  numCompletedTasks: 0\n  failure: false\n  iter8Version: v0.14\n"
	if err := os.WriteFile(filepath.Join(dir, "experiment.yaml"), []byte(running), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, _, stderr := iter8(context.Background(), "assert", "--runDir", dir, "-c", "completed", "--timeout", "300ms", "--interval", "10s")
	if took := time.Since(start); code != 1 || took >= 5*time.Second {
		t.Errorf("exit %d after %v, want 1 within about the 300 ms timeout:\n%s", code, took.Round(time.Millisecond), stderr)
	}
}
