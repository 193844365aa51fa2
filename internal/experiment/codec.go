package experiment

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"iter8.tools/iter8/internal/inputs"
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

// Encode writes the experiment as YAML.
func Encode(exp *Experiment) ([]byte, error) {
	b, err := yaml.Marshal(exp)
	if err != nil {
		return nil, fmt.Errorf("encoding experiment: %w", err)
	}
	return b, nil
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
