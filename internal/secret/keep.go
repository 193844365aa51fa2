package secret

import (
	"fmt"
	"strings"
)

// A literal secret (one given as it is, as the original's tutorials give
// them) is accepted, but kept out of the experiment: Lift replaces it with a
// reference to a place beside the experiment (a 0600 file, a key of the
// experiment's Kubernetes Secret) and returns it, so that the caller stores
// it there. The document, and so every log and report made from it, holds
// only the reference.

// Lift replaces each literal run of value (the text between references)
// that holds something secret with a ${file:...} reference, made by
// makeRef from a key, and returns the new value and the secrets by key. The
// first run's key is base, later ones base.2, base.3, ... A run that holds
// only authorisation schemes and separators ("Bearer ", ":") stays, as do
// the references: "Bearer abc${env:X}" becomes "${file:K}${env:X}" with K
// holding "Bearer abc". An escaped "$${" is kept as the "${" it stands for.
func Lift(value, base string, makeRef func(key string) string) (string, map[string]string) {
	var out strings.Builder
	kept := map[string]string{}
	var run, raw strings.Builder // a run's literal text, and as written
	flush := func() {
		if run.Len() == 0 && raw.Len() == 0 {
			return
		}
		text := run.String()
		if worthKeeping(text) {
			key := base
			if len(kept) > 0 {
				key = fmt.Sprintf("%s.%d", base, len(kept)+1)
			}
			kept[key] = text
			out.WriteString(makeRef(key))
		} else {
			out.WriteString(raw.String())
		}
		run.Reset()
		raw.Reset()
	}
	last := 0
	for _, loc := range ref.FindAllStringIndex(value, -1) {
		text := value[last:loc[0]]
		run.WriteString(text)
		raw.WriteString(text)
		m := value[loc[0]:loc[1]]
		last = loc[1]
		if m == "$${" {
			run.WriteString("${")
			raw.WriteString(m)
			continue
		}
		flush()
		out.WriteString(m)
	}
	run.WriteString(value[last:])
	raw.WriteString(value[last:])
	flush()
	return out.String(), kept
}

// worthKeeping reports whether a literal run holds a secret to keep:
// anything but authorisation scheme words and separators (Literal's name
// rule).
func worthKeeping(text string) bool {
	return !onlySchemes(text)
}

// KeyOf turns a values path into a key that is both a file name and a
// Kubernetes Secret key ([-._a-zA-Z0-9]+).
func KeyOf(path string) string {
	b := []byte(path)
	for i, c := range b {
		if c != '-' && c != '_' && c != '.' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			b[i] = '_'
		}
	}
	k := strings.Trim(string(b), ".")
	if k == "" {
		k = "secret"
	}
	if len(k) > 200 {
		k = k[:200]
	}
	return k
}
