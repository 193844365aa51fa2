// Package report renders an experiment for people (text) and machines (JSON).
package report

import (
	"encoding/json"
	"io"
	"sort"
	"strings"

	"iter8.tools/iter8/internal/experiment"
)

// Writer renders an experiment.
type Writer func(w io.Writer, exp *experiment.Experiment) error

// Formats maps output format names to writers.
func Formats() map[string]Writer {
	return map[string]Writer{
		"text": Text,
		"json": JSON,
	}
}

// FormatNames lists the formats, sorted.
func FormatNames() []string {
	var names []string
	for n := range Formats() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Lookup returns the writer for a format, or an error listing the formats.
func Lookup(name string) (Writer, error) {
	w, ok := Formats()[strings.ToLower(name)]
	if !ok {
		return nil, experiment.Invalidf("unknown report format %q: expected one of %s", name, strings.Join(FormatNames(), ", "))
	}
	return w, nil
}

// JSON writes the experiment as indented JSON.
func JSON(w io.Writer, exp *experiment.Experiment) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(exp)
}
