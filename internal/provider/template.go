package provider

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"strings"
	"text/template"
	"time"

	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/secret"
	"iter8.tools/iter8/internal/tmpl"
	"sigs.k8s.io/yaml"
)

// Template is a parsed provider template.
type Template struct {
	// Name is the provider name: metrics are recorded as <Name>/<metric>.
	Name string
	// Source says where the template came from, for messages.
	Source string
	// AllowLocalSecrets lets a template fetched from a URL render secret
	// references (${env:...}, ${file:...}); without it Render refuses them.
	AllowLocalSecrets bool
	remote            bool
	text              string
	tmpl              *tmpl.Template
}

// funcs are required and, through package tmpl, sprig's functions without
// env and expandenv (templates stay a pure function of their values; secrets
// go through ${env:NAME}) and with bounded cost.
func funcs() template.FuncMap {
	f := template.FuncMap{}
	f["required"] = func(msg string, v any) (any, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	return f
}

// Parse parses the text of the template for provider name, read from source.
func Parse(name, source string, text []byte) (*Template, error) {
	t, err := tmpl.Parse(name, string(text), tmpl.DefaultLimits(), funcs())
	if err != nil {
		return nil, fmt.Errorf("provider %s: template %s does not parse: %w", name, source, err)
	}
	return &Template{Name: name, Source: source, text: string(text), tmpl: t}, nil
}

// Render renders the template with one version's values and returns the
// checked spec.
func (t *Template) Render(vals map[string]any) (*Spec, error) {
	b, err := t.tmpl.Execute(vals)
	if err != nil {
		return nil, fmt.Errorf("provider %s: template %s does not render: %w", t.Name, t.Source, cleanExecError(err))
	}
	// A missing key prints "<no value>"; treat it as empty, as Helm does.
	out := strings.ReplaceAll(string(b), "<no value>", "")
	if ref := secret.First(out); ref != "" && t.remote && !t.AllowLocalSecrets {
		return nil, &secret.RefusedError{What: "provider " + t.Name + ": template", Source: t.Source, How: "came from a URL and renders", Ref: ref,
			Why: "iter8 lets remote templates read local secrets only with --allow-local-secrets (task input allowLocalSecrets)"}
	}
	js, err := yaml.YAMLToJSON([]byte(out))
	if err != nil {
		return nil, fmt.Errorf("provider %s: template %s renders invalid YAML: %w", t.Name, t.Source, err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(js, &m); err != nil || m == nil {
		return nil, fmt.Errorf("provider %s: template %s must render a YAML mapping with url or driver, and metrics", t.Name, t.Source)
	}
	spec := &Spec{}
	if err := inputs.Decode(m, spec); err != nil {
		return nil, fmt.Errorf("provider %s: template %s renders an invalid spec: %w", t.Name, t.Source, err)
	}
	if err := spec.check(t.text); err != nil {
		return nil, fmt.Errorf("provider %s: template %s renders an invalid spec: %w", t.Name, t.Source, err)
	}
	return spec, nil
}

var calledFail = regexp.MustCompile(`error calling (?:required|fail): (.*)$`)

// cleanExecError reduces an error the template raised itself (required,
// fail) to its message; other errors keep text/template's location.
func cleanExecError(err error) error {
	if m := calledFail.FindStringSubmatch(err.Error()); m != nil {
		return errors.New(m[1])
	}
	return err
}

// VersionValues returns the template values of one version: values
// deep-merged with over (over wins), plus startingTime (RFC 3339) and
// elapsedTimeSeconds (whole seconds from startingTime to now, rounded up,
// at least 1). startingTime comes from the merged values when set (not more
// than clockSkew after now), else from start. Neither argument is modified.
func VersionValues(values, over map[string]any, start, now time.Time) (map[string]any, error) {
	v := Merge(values, over)
	if s, ok := v["startingTime"]; ok && s != nil && s != "" {
		str, isStr := s.(string)
		t, err := time.Parse(time.RFC3339, str)
		if !isStr || err != nil {
			return nil, &inputs.FieldError{Field: "values.startingTime", Value: s, Expected: "a time in RFC 3339 format, such as 2026-01-02T15:04:05Z"}
		}
		if t.After(now.Add(clockSkew)) {
			// an empty window: every count in it is 0, which would pass
			return nil, &inputs.FieldError{Field: "values.startingTime", Value: s,
				Expected: fmt.Sprintf("a time that has come (it is now %s): metrics from a time to come are empty, not 0", now.UTC().Format(time.RFC3339))}
		}
		start = t
	}
	v["startingTime"] = start.UTC().Format(time.RFC3339)
	v["elapsedTimeSeconds"] = max(int64(1), int64(math.Ceil(now.Sub(start).Seconds())))
	return v, nil
}

// clockSkew is how far a startingTime may be ahead of this machine's clock
// (set from another machine's clock): up to it, the window is the shortest.
const clockSkew = time.Minute

// Merge returns a deep copy of base with over merged in: maps merge key by
// key, any other value in over replaces the one in base.
func Merge(base, over map[string]any) map[string]any {
	out := deepCopyMap(base)
	for k, ov := range over {
		if om, ok := ov.(map[string]any); ok {
			if bm, ok := out[k].(map[string]any); ok {
				out[k] = Merge(bm, om)
				continue
			}
		}
		out[k] = deepCopy(ov)
	}
	return out
}

func deepCopyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range maps.All(m) {
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return deepCopyMap(x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = deepCopy(x[i])
		}
		return out
	}
	return v
}
