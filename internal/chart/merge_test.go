package chart

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/cli/values"

	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/source"
)

// Merge keeps Helm's semantics: files in order (later wins, maps merge
// deeply), then --set, --set-string and --set-file into the result.
func TestMergeSemantics(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := write("a.yaml", "m: {p: 1, q: 1}\nl: [1, 2]\ns: a\n")
	b := write("b.yaml", "m: {q: 2, r: 2}\nl: [3]\n")
	txt := write("t.txt", "from a file\n")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "m: {u: 3}\n")
	}))
	t.Cleanup(srv.Close)
	v := Values{
		Files:    []string{a, b, srv.URL + "/c.yaml", "-"},
		Set:      []string{"l[1]=9", "n=5"},
		Strings:  []string{"n2=5"},
		FromFile: []string{"f=" + txt},
	}
	got, err := v.Merge(context.Background(), source.Reader{}, strings.NewReader("s: stdin\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"m": map[string]any{"p": float64(1), "q": float64(2), "r": float64(2), "u": float64(3)},
		"l": []any{float64(3), int64(9)},
		"s": "stdin", "n": int64(5), "n2": "5", "f": "from a file\n",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Merge (-want +got):\n%s", d)
	}

	// Local files and flags give what Helm's own merge gives.
	local := Values{Files: []string{a, b}, Set: v.Set, Strings: v.Strings, FromFile: v.FromFile}
	ours, err := local.Merge(context.Background(), source.Reader{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := values.Options{ValueFiles: local.Files, Values: local.Set, StringValues: local.Strings, FileValues: local.FromFile}
	helms, err := opts.MergeValues(nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(helms, ours); d != "" {
		t.Errorf("Merge differs from Helm's (-helm +iter8):\n%s", d)
	}
}

// Stdin, like every source, is cut at the cap.
func TestMergeCapsStdin(t *testing.T) {
	t.Parallel()
	big := io.LimitReader(strings.NewReader(strings.Repeat("#", MaxValuesFile+1)), MaxValuesFile+1)
	_, err := Values{Files: []string{"-"}}.Merge(context.Background(), source.Reader{}, big)
	if !errors.Is(err, inputs.ErrInvalid) || err.Error() != "values: standard input is larger than the 16 MiB iter8 reads" {
		t.Errorf("Merge = %v", err)
	}
	dup := "a: 1\na: 2\n"
	_, err = Values{Files: []string{"-"}}.Merge(context.Background(), source.Reader{}, strings.NewReader(dup))
	if err == nil || !strings.Contains(err.Error(), "key a is given twice") {
		t.Errorf("duplicate keys on stdin: %v", err)
	}
}

// NaN and infinities in a values file are bad input naming the field:
// Helm refused them without a name ("json: unsupported value: NaN").
func TestMergeNamesNonFiniteValues(t *testing.T) {
	t.Parallel()
	for doc, want := range map[string]string{
		"assess:\n  SLOs:\n    upper:\n    - metric: http/latency-p99\n      limit: .nan\n": `field "assess.SLOs.upper[0].limit": invalid value .nan (line 5): expected a finite number`,
		"http:\n  qps: -.inf\n":    `field "http.qps": invalid value -.inf (line 2): expected a finite number`,
		"http:\n  qps: .Inf\n":     `field "http.qps": invalid value .Inf (line 2)`,
		"http:\n  qps: \".nan\"\n": "", // a string: the task says what it expects
	} {
		_, err := Values{Files: []string{"-"}}.Merge(context.Background(), source.Reader{}, strings.NewReader(doc))
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", doc, err)
		case want != "" && (!errors.Is(err, inputs.ErrInvalid) || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: %v, want %s", doc, err, want)
		}
	}
}
