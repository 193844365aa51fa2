package inputs

import (
	"math"
	"strings"
	"testing"
)

type limitsIn struct {
	Limit  float64   `json:"limit"`
	QPS    *float64  `json:"qps,omitempty"`
	Count  *int64    `json:"count,omitempty"`
	List   []float64 `json:"list,omitempty"`
	Nested []struct {
		L float64 `json:"limit"`
	} `json:"nested,omitempty"`
	ByName  map[string]float64 `json:"byName,omitempty"`
	Timeout *Duration          `json:"timeout,omitempty"`
}

// Numbers are never changed silently: null, NaN, infinities and decimals
// beyond a float64 are errors naming the field; a decimal written as a
// string (as --set leaves it) is the number it says.
func TestNumbers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		with map[string]any
		want string // error substring; "" means it decodes
	}{
		{"null limit", map[string]any{"limit": nil}, `field "limit": invalid value null: expected a number (null is not a number`},
		{"null qps", map[string]any{"qps": nil}, `field "qps": invalid value null`},
		{"overflow string", map[string]any{"limit": "1e400"}, `field "limit": invalid value "1e400": expected a number within the range of a 64-bit float`},
		{"negative overflow", map[string]any{"qps": "-1e400"}, `field "qps": invalid value "-1e400"`},
		{"underflow", map[string]any{"qps": "1e-400"}, `field "qps": invalid value "1e-400": expected a number that is 0 or at least`},
		{"NaN", map[string]any{"limit": math.NaN()}, `field "limit": invalid value "NaN": expected a finite number`},
		{"+Inf", map[string]any{"limit": math.Inf(1)}, `field "limit": invalid value "+Inf": expected a finite number`},
		{"NaN string", map[string]any{"limit": "NaN"}, `field "limit": invalid value "NaN": expected a finite number`},
		{"inf string", map[string]any{"limit": ".inf"}, `field "limit": invalid value ".inf": expected a finite number`},
		{"nested", map[string]any{"nested": []any{map[string]any{"limit": 1.0}, map[string]any{"limit": nil}}}, `field "nested[1].limit": invalid value null`},
		{"in a list", map[string]any{"list": []any{1.0, "1e999"}}, `field "list[1]"`},
		{"in a map", map[string]any{"byName": map[string]any{"a": math.Inf(-1)}}, `field "byName.a"`},
		{"whole number", map[string]any{"count": "1e400"}, `field "count": invalid value "1e400": expected a whole number within`},
		{"decimal string", map[string]any{"limit": "0.05", "qps": " 97.5 ", "count": "12", "list": []any{"0.5", 2}, "byName": map[string]any{"a": ".25"}}, ""},
		{"zero", map[string]any{"limit": "0e10", "qps": "-0.0"}, ""},
		{"duration untouched", map[string]any{"timeout": "1.5s"}, ""},
		{"not a number", map[string]any{"limit": "fast"}, `field "limit": invalid value "fast": expected a number`},
	} {
		var in limitsIn
		err := Decode(tt.with, &in)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
		if tt.name == "decimal string" && (in.Limit != 0.05 || *in.QPS != 97.5 || *in.Count != 12 || in.List[0] != 0.5 || in.ByName["a"] != 0.25) {
			t.Errorf("decimals decoded as %+v", in)
		}
	}
	with := map[string]any{"limit": "0.05"}
	var in limitsIn
	if err := Decode(with, &in); err != nil || with["limit"] != "0.05" {
		t.Errorf("Decode changed its input: %v %v", with, err)
	}
}
