package experiment

import (
	"errors"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/inputs"
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
			if !errors.Is(err, inputs.ErrInvalid) {
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
		if _, err := CompileCondition(bad); err == nil || !errors.Is(err, inputs.ErrInvalid) {
			t.Errorf("CompileCondition(%q) = %v, want an ErrInvalid", bad, err)
		}
	}
}
