package task

import (
	"maps"
	"net/url"
	"os"
	"slices"

	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/secret"
	"iter8.tools/iter8/internal/source"
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

// fileOrURL picks the source of an input given both as a file and a URL, as
// the original's charts wrote them: the chart added a step that downloaded
// the URL into the file and the task read the file. So the file wins when
// it exists (relative to dir); when it does not, because no download step
// ran, the URL is fetched. The result has at most one of the two set.
func fileOrURL(dir, file, u string) (string, string) {
	if file == "" || u == "" {
		return file, u
	}
	if _, err := os.Stat(source.Path(dir, file)); err == nil {
		return file, ""
	}
	return "", u
}
