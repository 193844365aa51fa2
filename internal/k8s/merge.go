package k8s

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// A document is an experiment as generic JSON values: maps, lists, strings,
// booleans, json.Number and nil. Working on documents lets a writer apply
// exactly the changes it made on top of what another writer stored.
type document = map[string]any

// toDocument converts YAML or JSON into a document, keeping numbers exact.
func toDocument(yamlOrJSON []byte) (document, error) {
	js, err := yaml.YAMLToJSON(yamlOrJSON)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var d document
	if err := dec.Decode(&d); err != nil {
		return nil, err
	}
	if d == nil {
		d = document{}
	}
	return d, nil
}

// change is one edit of a document: set the value at path, or delete it.
type change struct {
	path   []string
	value  any
	delete bool
}

func (c change) String() string { return strings.Join(c.path, ".") }

// diff lists the changes that turn a into b. Maps are compared key by key;
// anything else (lists included) is replaced whole.
func diff(a, b document) []change {
	var out []change
	var walk func(path []string, a, b map[string]any)
	walk = func(path []string, a, b map[string]any) {
		for _, k := range slices.Sorted(maps.Keys(b)) {
			p := append(append([]string{}, path...), k)
			av, ok := a[k]
			switch {
			case !ok:
				out = append(out, change{path: p, value: b[k]})
			case isMap(av) && isMap(b[k]):
				walk(p, av.(map[string]any), b[k].(map[string]any))
			case !equal(av, b[k]):
				out = append(out, change{path: p, value: b[k]})
			}
		}
		for _, k := range slices.Sorted(maps.Keys(a)) {
			if _, ok := b[k]; !ok {
				out = append(out, change{path: append(append([]string{}, path...), k), delete: true})
			}
		}
	}
	walk(nil, a, b)
	return out
}

// lookup returns the value at path and whether it exists.
func lookup(d document, path []string) (any, bool) {
	var cur any = d
	for _, k := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// apply makes the changes in d, creating intermediate maps as needed.
func apply(d document, changes []change) {
	for _, c := range changes {
		m := d
		for _, k := range c.path[:len(c.path)-1] {
			next, ok := m[k].(map[string]any)
			if !ok {
				if c.delete {
					m = nil
					break
				}
				next = map[string]any{}
				m[k] = next
			}
			m = next
		}
		if m == nil {
			continue
		}
		last := c.path[len(c.path)-1]
		if c.delete {
			delete(m, last)
		} else {
			m[last] = c.value
		}
	}
}

// conflicts returns the paths this writer changed (base to mine) that another
// writer changed differently (base to theirs).
func conflicts(base, theirs document, changes []change) []string {
	var out []string
	for _, c := range changes {
		was, wasOK := lookup(base, c.path)
		now, nowOK := lookup(theirs, c.path)
		if wasOK == nowOK && (!wasOK || equal(was, now)) {
			continue // nobody else touched it
		}
		if c.delete && !nowOK || !c.delete && nowOK && equal(now, c.value) {
			continue // they made the same change
		}
		out = append(out, c.String())
	}
	return out
}

// deepCopy copies a document's maps and lists.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, x := range t {
			l[i] = deepCopy(x)
		}
		return l
	}
	return v
}

func isMap(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

// equal compares document values; numbers compare by value, so 1 and 1.0
// are the same.
func equal(a, b any) bool {
	an, aok := a.(json.Number)
	bn, bok := b.(json.Number)
	if aok && bok {
		if an == bn {
			return true
		}
		af, err1 := an.Float64()
		bf, err2 := bn.Float64()
		return err1 == nil && err2 == nil && af == bf
	}
	switch at := a.(type) {
	case map[string]any:
		bt, ok := b.(map[string]any)
		if !ok || len(at) != len(bt) {
			return false
		}
		for k, v := range at {
			w, ok := bt[k]
			if !ok || !equal(v, w) {
				return false
			}
		}
		return true
	case []any:
		bt, ok := b.([]any)
		if !ok || len(at) != len(bt) {
			return false
		}
		for i := range at {
			if !equal(at[i], bt[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// encodeDocument writes a document as YAML.
func encodeDocument(d document) ([]byte, error) {
	b, err := yaml.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encoding experiment: %w", err)
	}
	return b, nil
}
