package task

import (
	"maps"
	"net/url"
	"slices"

	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/secret"
)

// Input checks shared by the tasks.

// checkSecrets refuses secret-looking entries (Authorization, Cookie, tokens,
// keys) given as they are rather than as references.
func checkSecrets(field string, m map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if secret.CheckLiteral(k, m[k]) != nil {
			return &inputs.FieldError{Field: field + "." + k, Value: "(hidden)", Expected: "a secret reference such as ${env:NAME} or ${file:/path}: a secret given as it is would be stored in the experiment"}
		}
	}
	return nil
}

// checkURL requires an absolute http(s) URL.
func checkURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &inputs.FieldError{Field: field, Value: s, Expected: "an absolute http:// or https:// URL"}
	}
	return nil
}

// countSet counts the non-empty strings: inputs of which at most one may be
// given.
func countSet(vals ...string) int {
	n := 0
	for _, v := range vals {
		if v != "" {
			n++
		}
	}
	return n
}
