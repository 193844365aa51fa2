package provider

import (
	"context"
	"embed"
	"fmt"
	"net/http"
	"path"
	"sort"
	"strings"

	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/source"
)

//go:embed templates/*.tpl
var builtins embed.FS

// BuiltinNames lists the built-in templates, sorted.
func BuiltinNames() []string {
	entries, err := builtins.ReadDir("templates")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		out = append(out, strings.TrimSuffix(e.Name(), ".tpl"))
	}
	sort.Strings(out)
	return out
}

// Builtin returns the text of a built-in template.
func Builtin(name string) ([]byte, bool) {
	if name == "" || strings.ContainsAny(name, "/.") {
		return nil, false
	}
	b, err := builtins.ReadFile(path.Join("templates", name+".tpl"))
	return b, err == nil
}

// RefKind is where a template reference points.
type RefKind int

// Reference kinds.
const (
	BuiltinRef RefKind = iota
	FileRef
	URLRef
)

// Classify says what a template reference is: an http(s) URL, a built-in
// name, or a file path (one that contains a "/" or a "."). A bare word that
// is not a built-in name is an error listing the built-ins.
func Classify(ref string) (RefKind, error) {
	switch {
	case source.IsURL(ref):
		return URLRef, nil
	case ref == "":
		return 0, &inputs.ValueError{Expected: "a built-in template (" + strings.Join(BuiltinNames(), ", ") + "), a file path or an http(s) URL"}
	}
	if _, ok := Builtin(ref); ok {
		return BuiltinRef, nil
	}
	if strings.ContainsAny(ref, "/.") {
		return FileRef, nil
	}
	return 0, &inputs.ValueError{Expected: "a built-in template (" + strings.Join(BuiltinNames(), ", ") + "), a file path (./" + ref + ".tpl) or an http(s) URL"}
}

// Load reads and parses the template named by ref for provider name: a
// built-in, a file (relative paths are relative to dir) or an http(s) URL
// fetched with client, both through the one source reader.
func Load(ctx context.Context, name, ref, dir string, client *http.Client) (*Template, error) {
	kind, err := Classify(ref)
	if err != nil {
		return nil, fmt.Errorf("provider %s: template %q: %w", name, ref, err)
	}
	var text []byte
	from := ref
	switch kind {
	case BuiltinRef:
		text, _ = Builtin(ref)
		from = "built-in " + ref
	case FileRef, URLRef:
		if text, err = (source.Reader{Client: client}).Read(ctx, "template", dir, ref); err != nil {
			return nil, fmt.Errorf("provider %s: %w", name, err)
		}
	}
	t, err := Parse(name, from, text)
	if err != nil {
		return nil, err
	}
	t.remote = kind == URLRef
	return t, nil
}
