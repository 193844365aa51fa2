package chart

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"

	"iter8.tools/iter8/internal/inputs"
)

// schemaLine is one violation in Helm's schema validation error (Helm
// returns it as text):
// "- at '/ready': additional properties 'deplyo' not allowed".
var (
	schemaLine = regexp.MustCompile(`^- at '([^']*)': (.*)$`)
	extraKeys  = regexp.MustCompile(`^additional propert(?:y|ies) (.*) not allowed$`)
	quoted     = regexp.MustCompile(`'([^']*)'`)
)

// schemaError turns Helm's validation of the values against the chart's
// values.schema.json into bad input that names each offending key, with
// the valid keys at its level and, for a likely typo, the key meant
// (assess, not asess). Other errors are returned as they are.
func (c *Chart) schemaError(err error) error {
	text := err.Error()
	if !strings.Contains(text, "- at '") {
		return inputs.Invalidf("values: %v", err)
	}
	var schema map[string]any
	_ = json.Unmarshal(c.c.Schema, &schema)
	var msgs, others []string
	var first error
	for _, line := range strings.Split(text, "\n") {
		m := schemaLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		path := strings.Split(strings.Trim(m[1], "/"), "/")
		if m[1] == "" {
			path = nil
		}
		if x := extraKeys.FindStringSubmatch(m[2]); x != nil {
			known := keysAt(schema, path)
			for _, q := range quoted.FindAllStringSubmatch(x[1], -1) {
				fe := &inputs.FieldError{Field: dotted(append(append([]string{}, path...), q[1])), Unknown: true, Expected: strings.Join(known, ", ")}
				if s := inputs.Closest(q[1], known); s != "" {
					fe.Suggest = dotted(append(append([]string{}, path...), s))
				}
				if first == nil {
					first = fe
				}
				msgs = append(msgs, "values: "+fe.Error())
			}
			continue
		}
		if m[2] != "'anyOf' failed" {
			others = append(others, "values: "+dotted(path)+": "+m[2])
		}
	}
	sort.Strings(msgs)
	if len(msgs) == 0 {
		// Only when no key is unknown: a wrong type in one branch of an
		// anyOf is noise beside the key that made the object invalid.
		msgs = others
	}
	switch {
	case len(msgs) == 0:
		return inputs.Invalidf("values: %s", strings.TrimSpace(text))
	case len(msgs) == 1 && first != nil:
		return &inputs.InvalidError{Msg: msgs[0], Err: first}
	}
	return &inputs.InvalidError{Msg: strings.Join(msgs, "; "), Err: first}
}

// keysAt lists the properties the schema allows at a path of keys.
func keysAt(schema map[string]any, path []string) []string {
	node := schema
	for _, k := range path {
		next, _ := props(node)[k].(map[string]any)
		if next == nil {
			return nil
		}
		node = next
	}
	var out []string
	for k := range props(node) {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// props returns a schema node's properties, looking into anyOf branches
// (run is a string or an object).
func props(node map[string]any) map[string]any {
	if p, ok := node["properties"].(map[string]any); ok {
		return p
	}
	if alts, ok := node["anyOf"].([]any); ok {
		for _, a := range alts {
			if m, ok := a.(map[string]any); ok {
				if p, ok := m["properties"].(map[string]any); ok {
					return p
				}
			}
		}
	}
	return nil
}

// dotted writes a path of keys as --set does: assess.SLOs.upper.
func dotted(path []string) string {
	if len(path) == 0 {
		return "(top level)"
	}
	return strings.Join(path, ".")
}
