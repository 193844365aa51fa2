package experiment

import (
	"encoding/json"
	"errors"
	"testing"

	"iter8.tools/iter8/internal/inputs"
)

// FuzzDecode: any input decodes or fails with ErrInvalid, never panics; what
// decodes encodes to a document that decodes to the same experiment. (The
// YAML key order of odd keys such as "8" and "0B" may vary between
// encodings, a quirk of the YAML library's key sort, so experiments are
// compared as JSON.)
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"spec:\n- task: http\n  with: {url: http://127.0.0.1/}\n",
		"spec:\n- if: SLOs()\n  run: echo hi\nresult: {numLoops: 2, failure: true}\n",
		"spec: []\nresult:\n  insights:\n    numVersions: 2\n    nonHistMetricValues: [{a/b: [1, 2]}, {}]\n",
		"{\"spec\": [{\"task\": \"assess\", \"with\": {\"SLOs\": {\"upper\": [{\"metric\": \"x/y\", \"limit\": 1}]}}}]}",
		"",
		"- a\n- b",
		"spec:\n- task: http\n  with: &a {url: *a}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		exp, err := Decode(data)
		if err != nil {
			if !errors.Is(err, inputs.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		b, err := Encode(exp)
		if err != nil {
			t.Fatalf("encoding a decoded experiment: %v", err)
		}
		again, err := Decode(b)
		if err != nil {
			t.Fatalf("decoding an encoded experiment: %v\n%s", err, b)
		}
		j1, err1 := json.Marshal(exp)
		j2, err2 := json.Marshal(again)
		if err1 != nil || err2 != nil || string(j1) != string(j2) {
			t.Fatalf("round trip changed the experiment:\n%s\n---\n%s", j1, j2)
		}
	})
}

// FuzzCondition: any if: expression compiles or fails with ErrInvalid, and a
// compiled one evaluates without panicking.
func FuzzCondition(f *testing.F) {
	for _, s := range []string{"SLOs()", "not SLOs()", "Result.NumLoops == 3", "result.numLoops >= 2 && completed()",
		"NoFailure() || Result.Failure", "Result.StartTime.Year() > 2000", "len('abc') == 3", "1/0 == 1", "[1,2][5] == 1"} {
		f.Add(s)
	}
	exp := &Experiment{Spec: make([]TaskSpec, 2), Result: &Result{NumLoops: 2, NumCompletedTasks: 1}}
	f.Fuzz(func(t *testing.T, src string) {
		c, err := CompileCondition(src)
		if err != nil {
			if !errors.Is(err, inputs.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		_, _ = c.Eval(exp) // runtime errors are fine; panics are not
	})
}
