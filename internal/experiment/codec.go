package experiment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/metrics"
	"sigs.k8s.io/yaml"
)

// Decode parses an experiment from YAML (or JSON). Top-level keys and the keys
// of each task must be known; the result is read leniently so files written by
// older versions load.
func Decode(data []byte) (*Experiment, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, invalidf("the experiment is empty: expected a YAML document with a spec")
	}
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		if ferr := nonFinite(data); ferr != nil {
			return nil, invalidf("the experiment holds a number that is not finite: %w", ferr)
		}
		return nil, invalidf("the experiment is not valid YAML: %v", cleanYAMLError(err))
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(js, &top); err != nil {
		return nil, invalidf("the experiment must be a YAML mapping with keys spec and result, not %s", describeJSON(js))
	}
	exp := &Experiment{}
	for _, k := range slices.Sorted(maps.Keys(top)) {
		switch strings.ToLower(k) {
		case "spec":
			if exp.Spec, err = decodeSpec(top[k]); err != nil {
				return nil, err
			}
		case "result":
			if string(top[k]) == "null" {
				continue
			}
			exp.Result = &Result{}
			if err := json.Unmarshal(top[k], exp.Result); err != nil {
				return nil, invalidf("result: %v", strings.TrimPrefix(err.Error(), "json: "))
			}
			if err := checkHistograms(exp.Result); err != nil {
				return nil, err
			}
		default:
			return nil, invalidf("unknown top-level key %q: expected spec or result", k)
		}
	}
	if _, ok := lookupFold(top, "spec"); !ok {
		return nil, invalidf("the experiment has no spec: expected spec, a list of tasks")
	}
	return exp, nil
}

func decodeSpec(raw json.RawMessage) ([]TaskSpec, error) {
	var items []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, invalidf("spec must be a list of tasks, not %s", describeJSON(raw))
	}
	spec := make([]TaskSpec, len(items))
	for i, item := range items {
		for _, k := range slices.Sorted(maps.Keys(item)) {
			var err error
			t := &spec[i]
			switch strings.ToLower(k) {
			case "task":
				err = json.Unmarshal(item[k], &t.Task)
			case "run":
				err = json.Unmarshal(item[k], &t.Run)
			case "if":
				err = json.Unmarshal(item[k], &t.If)
			case "with":
				err = json.Unmarshal(item[k], &t.With)
				if err != nil {
					return nil, &TaskError{Index: i, Name: t.Name(), Err: &inputs.FieldError{Field: "with", Value: string(item[k]), Expected: "a mapping of input names to values"}}
				}
			default:
				return nil, &TaskError{Index: i, Err: &inputs.FieldError{Field: k, Unknown: true, Expected: "task, run, if, with"}}
			}
			if err != nil {
				return nil, &TaskError{Index: i, Err: &inputs.FieldError{Field: k, Value: string(item[k]), Expected: "a string"}}
			}
		}
	}
	return spec, nil
}

// Encode writes the experiment as YAML. Every string is sanitised on the
// way (Sanitize), so a save never fails on content: a backend's error body
// or a run task's output may hold any bytes.
func Encode(exp *Experiment) ([]byte, error) {
	js, err := json.Marshal(exp)
	if err != nil {
		return nil, fmt.Errorf("encoding experiment: %w", err)
	}
	b, err := yaml.JSONToYAML(sanitizeJSON(js))
	if err != nil {
		return nil, fmt.Errorf("encoding experiment: %w", err)
	}
	return b, nil
}

// Sanitize returns s with every character a YAML document cannot hold
// (DEL, C1 controls but NEL, U+FFFE, U+FFFF) and every invalid UTF-8 byte
// replaced by U+FFFD. Other control characters are kept: the encoder
// escapes them.
func Sanitize(s string) string {
	if !needsSanitizing(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unprintable(r) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}

func needsSanitizing(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unprintable(r) {
			return true
		}
	}
	return false
}

// unprintable reports whether YAML refuses r even escaped. JSON encoding
// already escapes C0 controls and replaces invalid UTF-8.
func unprintable(r rune) bool {
	return r == 0x7f || (r >= 0x80 && r <= 0x9f && r != 0x85) || r == 0xfffe || r == 0xffff
}

// sanitizeJSON applies Sanitize to an encoded JSON document: the characters
// it replaces appear in JSON text as they are (never escaped), and only
// inside strings.
func sanitizeJSON(js []byte) []byte {
	if !needsSanitizing(string(js)) {
		return js
	}
	return []byte(Sanitize(string(js)))
}

func lookupFold[V any](m map[string]V, key string) (V, bool) {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	var zero V
	return zero, false
}

func describeJSON(js []byte) string {
	s := strings.TrimSpace(string(js))
	switch {
	case s == "" || s == "null":
		return "an empty document"
	case s[0] == '[':
		return "a list"
	case s[0] == '"':
		return "a string"
	case s[0] == '{':
		return "a mapping of the wrong shape"
	}
	return "a scalar value"
}

func cleanYAMLError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "error converting YAML to JSON: ")
	return strings.TrimPrefix(s, "yaml: ")
}

// checkHistograms makes sure every stored HDR histogram decodes, so that a
// corrupt (or hand-edited) result is refused when it is read, naming the
// histogram, instead of being dropped from a merge later.
func checkHistograms(r *Result) error {
	check := func(where string, hs []map[string]string) error {
		for v, m := range hs {
			for _, name := range slices.Sorted(maps.Keys(m)) {
				if _, err := metrics.DecodeHDR(m[name]); err != nil {
					return invalidf("%s[%d][%q]: not a valid HDR histogram encoding: %v", where, v, name, err)
				}
			}
		}
		return nil
	}
	if r.Insights != nil {
		if err := check("result.insights.histograms", r.Insights.Histograms); err != nil {
			return err
		}
	}
	for i, s := range r.History {
		if err := check(fmt.Sprintf("result.history[%d].histograms", i), s.Histograms); err != nil {
			return err
		}
	}
	return nil
}
