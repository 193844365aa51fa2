package main

import (
	"os"
	"path/filepath"
	"strings"
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
