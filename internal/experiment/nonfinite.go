package experiment

import (
	"fmt"
	"math"
	"strconv"

	yamlv3 "go.yaml.in/yaml/v3"

	"iter8.tools/iter8/internal/inputs"
)

// nonFinite finds the first NaN or infinity (.nan, .inf) in a YAML
// document and returns a FieldError naming where it is, or nil. Such a
// value cannot be converted to JSON, and as a limit or a rate it would never
// mean what the user wants.
func nonFinite(data []byte) error {
	var doc yamlv3.Node
	if yamlv3.Unmarshal(data, &doc) == nil {
		return findNonFinite(&doc)
	}
	return nil // not YAML: the caller reports its own parse error
}

// findNonFinite walks a YAML node tree for a NaN or an infinity.
func findNonFinite(doc *yamlv3.Node) error {
	var walk func(n *yamlv3.Node, path string) error
	walk = func(n *yamlv3.Node, path string) error {
		switch n.Kind {
		case yamlv3.DocumentNode:
			for _, c := range n.Content {
				if err := walk(c, path); err != nil {
					return err
				}
			}
		case yamlv3.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				if path != "" {
					k = path + "." + k
				}
				if err := walk(n.Content[i+1], k); err != nil {
					return err
				}
			}
		case yamlv3.SequenceNode:
			for i, c := range n.Content {
				if err := walk(c, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		case yamlv3.ScalarNode:
			if n.ShortTag() != "!!float" {
				return nil
			}
			var f float64
			if err := n.Decode(&f); err == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
				return &inputs.FieldError{Field: path, Value: n.Value, Expected: "a finite number (" + strconv.Quote(n.Value) + " is NaN or an infinity)"}
			}
		}
		return nil
	}
	return walk(doc, "")
}
