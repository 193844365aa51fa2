package provider

import (
	"context"
	"embed"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"iter8.tools/iter8/internal/inputs"
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
	case strings.HasPrefix(ref, "http://") || strings.HasPrefix(ref, "https://"):
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
// fetched with client.
func Load(ctx context.Context, name, ref, dir string, client *http.Client) (*Template, error) {
	kind, err := Classify(ref)
	if err != nil {
		return nil, fmt.Errorf("provider %s: template %q: %w", name, ref, err)
	}
	var text []byte
	source := ref
	switch kind {
	case BuiltinRef:
		text, _ = Builtin(ref)
		source = "built-in " + ref
	case FileRef:
		p := ref
		if !filepath.IsAbs(p) && dir != "" {
			p = filepath.Join(dir, p)
		}
		if text, err = os.ReadFile(p); err != nil {
			return nil, fmt.Errorf("provider %s: reading template: %w", name, err)
		}
	case URLRef:
		if text, err = fetch(ctx, ref, client); err != nil {
			return nil, fmt.Errorf("provider %s: fetching template %s: %w", name, ref, err)
		}
	}
	return Parse(name, source, text)
}

// maxTemplate bounds a fetched template.
const maxTemplate = 1 << 20

func fetch(ctx context.Context, u string, client *http.Client) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTemplate+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxTemplate {
		return nil, fmt.Errorf("the template is larger than %d bytes", maxTemplate)
	}
	return b, nil
}
