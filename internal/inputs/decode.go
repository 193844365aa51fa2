// Package inputs decodes user-supplied task inputs strictly, field by field,
// into typed structs, and defines the vocabulary of bad input: FieldError
// names the field, the value and what was expected; ErrInvalid matches every
// such error, and they all exit with exitcode.Usage. It is a leaf package:
// anything that reads user input can use it without importing the
// experiment document.
package inputs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// Decode decodes a task's with: map into dst, a pointer to a struct with
// JSON tags. It works field by field so that every error names its field:
// unknown keys are rejected with the list of valid ones, and values of the
// wrong type name the value and the type expected. Keys match JSON tags
// exactly or, as the original accepted, case-insensitively. A number field
// takes a number or a decimal written as a string (as Helm's --set leaves
// 0.05); null, NaN, infinities and decimals beyond a float64 are errors
// naming the field, never a silent 0.
func Decode(with map[string]any, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("inputs.Decode: dst must be a pointer to a struct, got %T", dst)
	}
	fields := inputFields(rv.Elem())
	for _, k := range slices.Sorted(maps.Keys(with)) {
		f, ok := fields.lookup(k)
		if !ok {
			return &FieldError{Field: k, Unknown: true, Expected: strings.Join(fields.names, ", "), Suggest: Closest(k, fields.names)}
		}
		val, err := numbers(k, with[k], f.Type())
		if err != nil {
			return err
		}
		if err := decodeField(k, val, f); err != nil {
			return err
		}
	}
	return nil
}

type fieldSet struct {
	byName map[string]reflect.Value
	byFold map[string]reflect.Value
	names  []string
}

func (s fieldSet) lookup(k string) (reflect.Value, bool) {
	if f, ok := s.byName[k]; ok {
		return f, true
	}
	f, ok := s.byFold[strings.ToLower(k)]
	return f, ok
}

func inputFields(v reflect.Value) fieldSet {
	s := fieldSet{byName: map[string]reflect.Value{}, byFold: map[string]reflect.Value{}}
	for _, f := range jsonFields(v.Type()) {
		fv := v.FieldByIndex(f.index)
		s.byName[f.name] = fv
		s.byFold[strings.ToLower(f.name)] = fv
		s.names = append(s.names, f.name)
	}
	sort.Strings(s.names)
	return s
}

// jsonField is a field of a struct as encoding/json sees it.
type jsonField struct {
	name  string
	index []int // for reflect's FieldByIndex
	typ   reflect.Type
}

// jsonFields lists the exported fields of struct type t under their JSON
// names, with the fields of embedded untagged structs promoted, as
// encoding/json does; fields tagged "-" are left out.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			index := append(append([]int{}, prefix...), i)
			name, _, _ := strings.Cut(tag, ",")
			if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
				walk(sf.Type, index)
				continue
			}
			if !sf.IsExported() {
				continue
			}
			if name == "" {
				name = sf.Name
			}
			out = append(out, jsonField{name: name, index: index, typ: sf.Type})
		}
	}
	walk(t, nil)
	return out
}

func decodeField(key string, val any, f reflect.Value) error {
	b, err := json.Marshal(val)
	if err != nil {
		return &FieldError{Field: key, Value: fmt.Sprint(val), Expected: "a JSON-compatible value"}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(f.Addr().Interface()); err != nil {
		return fieldDecodeError(key, val, f.Type(), err)
	}
	return nil
}

func fieldDecodeError(key string, val any, t reflect.Type, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := key
		if te.Field != "" {
			field = key + "." + te.Field
		}
		want := describeType(t)
		if te.Field == "" && te.Type != t && te.Type != reflect.PointerTo(t) {
			// The mismatch is inside a map or list: say where.
			want += fmt.Sprintf(" (found a %s where %s was expected)", te.Value, describeType(te.Type))
		} else if te.Field != "" {
			want = describeType(te.Type)
			if where, leaf, ok := locate(val, strings.Split(te.Field, "."), "", te.Value, te.Type); ok {
				// name the very value, with its list positions
				return &FieldError{Field: key + where, Value: leaf, Expected: want}
			}
		}
		return &FieldError{Field: field, Value: val, Expected: want}
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		if fe.Field == "" {
			fe.Field = key
		} else {
			fe.Field = key + "." + fe.Field
		}
		return fe
	}
	var ve *ValueError
	if errors.As(err, &ve) {
		return &FieldError{Field: key, Value: val, Expected: ve.Expected}
	}
	if strings.HasPrefix(err.Error(), "json: unknown field ") {
		if where, k, names, ok := unknownAt(val, t, ""); ok {
			return &FieldError{Field: key + where + "." + k, Unknown: true, Expected: strings.Join(names, ", "), Suggest: Closest(k, names)}
		}
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return &FieldError{Field: key, Value: val, Expected: describeType(t) + " (" + msg + ")"}
}

// unknownAt finds, in a decoded value v meant for type t, the first object
// key that no field of its struct takes (in key order, as Decode reports a
// task's own keys): where the object is (".upper[0]"), the key, and the
// struct's field names.
func unknownAt(v any, t reflect.Type, at string) (where, key string, names []string, ok bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, isMap := v.(map[string]any)
		if !isMap || t == reflect.TypeFor[Duration]() {
			return "", "", nil, false
		}
		fields := inputFields(reflect.New(t).Elem()) // (as Decode matches keys)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			f, found := fields.lookup(k)
			if !found {
				return at, k, fields.names, true
			}
			if where, key, names, ok := unknownAt(m[k], f.Type(), at+"."+k); ok {
				return where, key, names, true
			}
		}
	case reflect.Slice, reflect.Array:
		l, _ := v.([]any)
		for i, e := range l {
			if where, key, names, ok := unknownAt(e, t.Elem(), fmt.Sprintf("%s[%d]", at, i)); ok {
				return where, key, names, true
			}
		}
	case reflect.Map:
		m, _ := v.(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if where, key, names, ok := unknownAt(m[k], t.Elem(), at+"."+k); ok {
				return where, key, names, true
			}
		}
	}
	return "", "", nil, false
}

// locate finds, in a decoded value v, the first value at path (object
// keys; lists are searched through and their positions named) whose JSON
// kind is kind, as json.UnmarshalTypeError reports it ("string", "number",
// "bool", "array", "object"): where it is (".upper[0].limit") and the value.
func locate(v any, path []string, at, kind string, t reflect.Type) (string, any, bool) {
	if len(path) == 0 && jsonKind(v) == strings.Fields(kind + " ")[0] && !fits(v, t) {
		return at, v, true
	}
	if l, ok := v.([]any); ok {
		for i, e := range l {
			if where, leaf, ok := locate(e, path, fmt.Sprintf("%s[%d]", at, i), kind, t); ok {
				return where, leaf, true
			}
		}
		return "", nil, false
	}
	m, ok := v.(map[string]any)
	if !ok || len(path) == 0 {
		return "", nil, false
	}
	child, ok := m[path[0]]
	if !ok {
		return "", nil, false
	}
	return locate(child, path[1:], at+"."+path[0], kind, t)
}

// fits reports whether a decoded number fits an integer type (whole, and
// in its range); other values are judged by their kind alone (false).
func fits(v any, t reflect.Type) bool {
	f, ok := v.(float64)
	if !ok || t == nil {
		return false
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return f == math.Trunc(f) && !reflect.Zero(t).OverflowInt(int64(f)) && math.Abs(f) < 1<<63
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return f >= 0 && f == math.Trunc(f) && f < 1<<64 && !reflect.Zero(t).OverflowUint(uint64(f))
	}
	return false
}

// jsonKind is the JSON kind of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case nil:
		return "null"
	}
	return "number"
}

func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[Duration]() {
		return "a duration such as 30s, 1m or 500ms"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list of " + plural(t.Elem())
	case reflect.Map:
		if t.Elem().Kind() == reflect.Interface {
			return "a map"
		}
		return "a map of " + plural(t.Elem())
	case reflect.Struct:
		return "an object"
	case reflect.Interface:
		return "a value"
	}
	return t.String()
}

// plural names the values of type t in the plural: "strings", "maps of
// strings", "lists of numbers".
func plural(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch d := describeType(t); {
	case t == reflect.TypeFor[Duration]():
		return "durations such as 30s"
	case t.Kind() == reflect.Bool:
		return "true or false values"
	case t.Kind() == reflect.Interface:
		return "values"
	default:
		d = strings.TrimPrefix(strings.TrimPrefix(d, "a "), "an ")
		head, rest, _ := strings.Cut(d, " of ")
		if rest != "" {
			return head + "s of " + rest
		}
		return head + "s"
	}
}

// ValueError is returned by input types' UnmarshalJSON to say what was
// expected; Decode turns it into a FieldError naming the field.
type ValueError struct {
	Expected string
}

func (e *ValueError) Error() string { return "expected " + e.Expected }

// Duration is a task input holding a Go duration written as a string, such
// as 30s, 1m30s or 250ms.
type Duration struct {
	time.Duration
}

// UnmarshalJSON accepts a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &ValueError{Expected: "a duration such as 30s, 1m or 500ms (a string with a unit)"}
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return &ValueError{Expected: "a duration such as 30s, 1m or 500ms"}
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}
