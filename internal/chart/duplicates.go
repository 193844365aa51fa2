package chart

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	yaml "go.yaml.in/yaml/v3"

	"iter8.tools/iter8/internal/inputs"
)

// CheckDuplicateKeys returns bad input naming the first key given twice in
// one mapping of a values document, or saying it is not YAML (Helm keeps the last silently, so a
// typo'd override would go unnoticed). It also names the first value that is
// NaN or an infinity (.nan, .inf), which Helm refuses without naming it.
// source names the document.
func CheckDuplicateKeys(source string, data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	// Until the end, or text that is not YAML: Helm reports that with its
	// own message.
	for {
		doc := new(yaml.Node)
		err := dec.Decode(doc)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return inputs.Invalidf("values: %s is not valid YAML: %v", source, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		if err := duplicates(source, "", doc); err != nil {
			return err
		}
	}
}

func duplicates(source, path string, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range n.Content {
			p := path
			if n.Kind == yaml.SequenceNode {
				p = fmt.Sprintf("%s[%d]", path, i)
			}
			if err := duplicates(source, p, c); err != nil {
				return err
			}
		}
	case yaml.ScalarNode:
		var f float64
		if n.Tag == "!!float" && n.Decode(&f) == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
			return inputs.Invalidf("values: %s: field %q: invalid value %s (line %d): expected a finite number", source, path, n.Value, n.Line)
		}
	case yaml.MappingNode:
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			key := k.Value
			p := key
			if path != "" {
				p = path + "." + key
			}
			if line, ok := seen[key]; ok && k.Tag != "!!merge" {
				return inputs.Invalidf("values: %s: key %s is given twice (lines %d and %d): expected each key once", source, p, line, k.Line)
			}
			seen[key] = k.Line
			if err := duplicates(source, p, n.Content[i+1]); err != nil {
				return err
			}
		}
	}
	return nil
}
