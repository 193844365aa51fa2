package inputs_test

import (
	"errors"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/exitcode"
	"iter8.tools/iter8/internal/inputs"
)

type sampleInputs struct {
	URL      string            `json:"url,omitempty"`
	QPS      *float64          `json:"qps,omitempty"`
	N        int               `json:"numRequests,omitempty"`
	Duration *inputs.Duration  `json:"duration,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Ranges   []struct {
		Lower *int `json:"lower,omitempty"`
	} `json:"errorRanges,omitempty"`
	Flag  bool             `json:"warmup,omitempty"`
	Items []map[string]any `json:"items,omitempty"`
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
		{"unknown field", map[string]any{"qsp": 1.0}, `unknown field "qsp": did you mean "qps"? (expected one of duration, errorRanges, headers, items, numRequests, qps, url, warmup)`},
		{"malformed duration", map[string]any{"duration": "10 parsecs"}, `field "duration": invalid value "10 parsecs": expected a duration such as 30s, 1m or 500ms`},
		{"duration as number", map[string]any{"duration": 10.0}, `field "duration": invalid value 10: expected a duration`},
		{"string for number", map[string]any{"qps": "fast"}, `field "qps": invalid value "fast": expected a number`},
		{"fraction for whole number", map[string]any{"numRequests": 2.5}, `field "numRequests": invalid value 2.5: expected a whole number`},
		{"list for string", map[string]any{"url": []any{"a"}}, `field "url": invalid value ["a"]: expected a string`},
		{"bool", map[string]any{"warmup": "yes"}, `field "warmup": invalid value "yes": expected true or false`},
		{"nested unknown", map[string]any{"errorRanges": []any{map[string]any{"lower": 400.0}, map[string]any{"lowr": 400.0}}}, `unknown field "errorRanges[1].lowr": did you mean "lower"? (expected one of lower)`},
		{"map value type", map[string]any{"headers": map[string]any{"a": 1.0}}, `field "headers": invalid value {"a":1}: expected a map of strings (found a number where a string was expected)`},
		{"list of maps", map[string]any{"items": "abc"}, `field "items": invalid value "abc": expected a list of maps`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var in sampleInputs
			err := inputs.Decode(tt.with, &in)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !errors.Is(err, inputs.ErrInvalid) || exitcode.Of(err) != exitcode.Usage {
				t.Errorf("%v does not match ErrInvalid with exit code %d", err, exitcode.Usage)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// A value of the wrong type deep in lists and objects is named by its
// path, list positions included, with the value itself, not the whole
// top-level value.
func TestDecodeNamesTheValue(t *testing.T) {
	t.Parallel()
	type param struct {
		Name string `json:"name"`
	}
	type metric struct {
		Params []param `json:"params"`
	}
	type slo struct {
		Metric string  `json:"metric"`
		Limit  float64 `json:"limit"`
	}
	type item struct {
		N int `json:"n"`
	}
	var in struct {
		SLOs struct {
			Upper []slo `json:"upper"`
		} `json:"SLOs"`
		Metrics []metric `json:"metrics"`
		Items   []item   `json:"items"`
	}
	for _, tt := range []struct {
		with map[string]any
		want string
	}{
		{map[string]any{"SLOs": map[string]any{"upper": []any{map[string]any{"metric": "a", "limit": 1.0}, map[string]any{"metric": "b", "limit": "5%"}}}},
			`field "SLOs.upper[1].limit": invalid value "5%": expected a number`},
		{map[string]any{"metrics": []any{map[string]any{"params": []any{map[string]any{"name": false}}}}},
			`field "metrics[0].params[0].name": invalid value false: expected a string`},
		{map[string]any{"items": []any{map[string]any{"n": 1.0}, map[string]any{"n": 1.5}}},
			`field "items[1].n": invalid value 1.5`},
	} {
		err := inputs.Decode(tt.with, &in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want %s", err, tt.want)
		}
	}
}
