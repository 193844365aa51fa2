package experiment

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, want string
	}{
		{"empty", "", "the experiment is empty"},
		{"not yaml", "spec: [\n  - task: http\n with: {", "not valid YAML"},
		{"scalar", "hello world", "must be a YAML mapping"},
		{"list", "- task: http", "must be a YAML mapping"},
		{"unknown top-level key", "spec: []\nresults: {}", `unknown top-level key "results": expected spec or result`},
		{"no spec", "result: {numLoops: 1}", "has no spec"},
		{"spec not a list", "spec: {task: http}", "spec must be a list of tasks"},
		{"unknown task key", "spec:\n- tsk: http", `task 1: unknown field "tsk": expected one of task, run, if, with`},
		{"with not a map", "spec:\n- task: http\n  with: [1]", `task 1 (http): field "with"`},
		{"task not a string", "spec:\n- task: {a: 1}", `task 1: field "task"`},
		{"bad result", "spec: []\nresult: {numLoops: many}", "result: cannot unmarshal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tt.doc))
			if err == nil {
				t.Fatal("Decode succeeded, want an error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestDecodeEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	doc := "spec:\n- task: http\n  with:\n    url: http://127.0.0.1:1/\n- if: SLOs()\n  run: echo hi\n"
	exp, err := Decode([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(exp.Spec) != 2 || exp.Spec[0].Name() != "http" || exp.Spec[1].Name() != "run" || *exp.Spec[1].If != "SLOs()" {
		t.Fatalf("decoded %+v", exp.Spec)
	}
	b, err := Encode(exp)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if *again.Spec[1].Run != "echo hi" {
		t.Errorf("round trip lost the run script: %s", b)
	}
}

type sampleInputs struct {
	URL      string            `json:"url,omitempty"`
	QPS      *float64          `json:"qps,omitempty"`
	N        int               `json:"numRequests,omitempty"`
	Duration *Duration         `json:"duration,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Ranges   []struct {
		Lower *int `json:"lower,omitempty"`
	} `json:"errorRanges,omitempty"`
	Flag bool `json:"warmup,omitempty"`
}

func TestDecodeInputs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		with map[string]any
		want string // "" means success
	}{
		{"ok", map[string]any{"url": "http://x", "qps": 2.5, "numRequests": 10.0, "duration": "1m", "headers": map[string]any{"a": "b"}}, ""},
		{"case-insensitive key", map[string]any{"NUMREQUESTS": 3.0}, ""},
		{"unknown field", map[string]any{"qsp": 1.0}, `unknown field "qsp": did you mean "qps"? (expected one of duration, errorRanges, headers, numRequests, qps, url, warmup)`},
		{"malformed duration", map[string]any{"duration": "10 parsecs"}, `field "duration": invalid value "10 parsecs": expected a duration such as 30s, 1m or 500ms`},
		{"duration as number", map[string]any{"duration": 10.0}, `field "duration": invalid value 10: expected a duration`},
		{"string for number", map[string]any{"qps": "fast"}, `field "qps": invalid value "fast": expected a number`},
		{"fraction for whole number", map[string]any{"numRequests": 2.5}, `field "numRequests": invalid value 2.5: expected a whole number`},
		{"list for string", map[string]any{"url": []any{"a"}}, `field "url": invalid value ["a"]: expected a string`},
		{"bool", map[string]any{"warmup": "yes"}, `field "warmup": invalid value "yes": expected true or false`},
		{"nested unknown", map[string]any{"errorRanges": []any{map[string]any{"lowr": 400.0}}}, `field "errorRanges"`},
		{"map value type", map[string]any{"headers": map[string]any{"a": 1.0}}, `field "headers": invalid value {"a":1}: expected a map of string values (found a number where a string was expected)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var in sampleInputs
			err := DecodeInputs(tt.with, &in)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%v does not match ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestConditions(t *testing.T) {
	t.Parallel()
	exp := &Experiment{Spec: make([]TaskSpec, 2), Result: &Result{NumLoops: 3, NumCompletedTasks: 2}}
	tests := []struct {
		src  string
		want bool
	}{
		{"Result.NumLoops == 3", true},
		{"result.numLoops >= 4", false},
		{"Completed()", true},
		{"completed() && NoFailure()", true},
		{"SLOs()", false}, // no insights yet
		{"not SLOs()", true},
		{"slos() || nofailure()", true},
	}
	for _, tt := range tests {
		c, err := CompileCondition(tt.src)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		got, err := c.Eval(exp)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		if got != tt.want {
			t.Errorf("%s = %v, want %v", tt.src, got, tt.want)
		}
	}
	for _, bad := range []string{"Result.NumLoops", "SLOs(", "Result.Bogus == 1", "1 + "} {
		if _, err := CompileCondition(bad); err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("CompileCondition(%q) = %v, want an ErrInvalid", bad, err)
		}
	}
}
