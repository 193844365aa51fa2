package inputs

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
)

// decimal is a number written as text: Helm's --set leaves decimals such as
// 0.05 as strings, and YAML leaves a number too large for a float64 (1e400)
// as one.
var decimal = regexp.MustCompile(`^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$`)

// numbers checks and converts, in a value about to be decoded into type t,
// every value meant for a number field: a decimal written as a string
// becomes a number; null, NaN, an infinity and a decimal beyond the range of
// a float64 are errors naming the field (they would otherwise become 0, or
// pass as a limit no value can cross). It returns a copy; v is not changed.
func numbers(path string, v any, t reflect.Type) (any, error) {
	if t.Implements(reflect.TypeFor[json.Unmarshaler]()) || reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return v, nil
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return number(path, v, t)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return v, nil
		}
		fields := structFields(t)
		out := make(map[string]any, len(m))
		for k, x := range m {
			ft, ok := fields[k]
			if !ok {
				ft, ok = fields[strings.ToLower(k)]
			}
			if !ok {
				out[k] = x // unknown: the decoder names it
				continue
			}
			y, err := numbers(join(path, k), x, ft)
			if err != nil {
				return nil, err
			}
			out[k] = y
		}
		return out, nil
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return v, nil
		}
		out := make(map[string]any, len(m))
		for k, x := range m {
			y, err := numbers(join(path, k), x, t.Elem())
			if err != nil {
				return nil, err
			}
			out[k] = y
		}
		return out, nil
	case reflect.Slice, reflect.Array:
		l, ok := v.([]any)
		if !ok {
			return v, nil
		}
		out := make([]any, len(l))
		for i, x := range l {
			y, err := numbers(fmt.Sprintf("%s[%d]", path, i), x, t.Elem())
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	}
	return v, nil
}

// number checks one value meant for a number field of type t.
func number(path string, v any, t reflect.Type) (any, error) {
	want := "a number"
	if t.Kind() != reflect.Float32 && t.Kind() != reflect.Float64 {
		want = "a whole number"
	}
	switch x := v.(type) {
	case nil:
		return nil, &FieldError{Field: path, Value: nil, Expected: want + " (null is not a number: leave the field out for its default)"}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, &FieldError{Field: path, Value: strconv.FormatFloat(x, 'g', -1, 64), Expected: "a finite " + strings.TrimPrefix(want, "a ")}
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, &FieldError{Field: path, Value: strconv.FormatFloat(float64(x), 'g', -1, 32), Expected: "a finite " + strings.TrimPrefix(want, "a ")}
		}
	case string:
		s := strings.TrimSpace(x)
		switch strings.ToLower(strings.TrimLeft(s, "+-.")) {
		case "nan", "inf", "infinity":
			return nil, &FieldError{Field: path, Value: x, Expected: "a finite " + strings.TrimPrefix(want, "a ")}
		}
		if !decimal.MatchString(s) {
			return v, nil // the decoder says what was expected
		}
		f, err := strconv.ParseFloat(s, 64)
		if errors.Is(err, strconv.ErrRange) && math.IsInf(f, 0) {
			return nil, &FieldError{Field: path, Value: x, Expected: want + " within the range of a 64-bit float (about ±1.8e308)"}
		}
		if f == 0 && !zero(s) {
			// Too close to 0 to be told from it: it would silently be 0.
			return nil, &FieldError{Field: path, Value: x, Expected: want + " that is 0 or at least about 1e-308 in size"}
		}
		if err != nil {
			return nil, &FieldError{Field: path, Value: x, Expected: want + " (" + err.Error() + ")"}
		}
		if t.Kind() != reflect.Float32 && t.Kind() != reflect.Float64 {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i, nil
			}
		}
		return f, nil
	}
	return v, nil
}

// zero reports whether a decimal is written as zero (0, 0.0, 0e5).
func zero(s string) bool {
	mant, _, _ := strings.Cut(strings.ToLower(s), "e")
	return strings.Trim(mant, "+-0.") == ""
}

// structFields maps the JSON names of t's fields, and their lower-case
// forms, to the fields' types.
func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, f := range jsonFields(t) {
		out[f.name] = f.typ
		if _, ok := out[strings.ToLower(f.name)]; !ok {
			out[strings.ToLower(f.name)] = f.typ
		}
	}
	return out
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}
