package provider

import (
	"testing"
	"time"
)

// Any values rendered through the built-in templates (and a SQL template)
// give a checked spec or an error, never a panic. Template text itself is
// trusted input, like a run script: sprig can be asked for arbitrarily
// expensive work, so only its parsing is fuzzed (FuzzParse).
func FuzzRender(f *testing.F) {
	f.Add("http://127.0.0.1:9090", `x_total{a="b"}`, "v1", 95.0)
	f.Add("${env:URL}", "", "", 0.0)
	f.Add("http://x", `a{b=~"5.."}`, `v1' OR '1'='1`, 99.9)
	texts := map[string]string{"sql": sqlTemplate}
	for _, name := range BuiltinNames() {
		b, _ := Builtin(name)
		texts[name] = string(b)
	}
	f.Fuzz(func(t *testing.T, url, selector, version string, p float64) {
		vals := map[string]any{
			"prometheusURL": url, "istioPromURL": url, "dsn": url,
			"requests": selector, "errors": selector, "latency": selector,
			"namespace": version, "service": version, "revision": version, "version": version,
			"labels":             map[string]any{"destination_version": version},
			"latencyPercentiles": []any{p},
			"queries":            map[string]any{version: selector},
		}
		v, err := VersionValues(vals, nil, time.Unix(0, 0), time.Unix(60, 0))
		if err != nil {
			return
		}
		for name, text := range texts {
			tp, err := Parse(name, "fuzz", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			spec, err := tp.Render(v)
			if err != nil {
				continue
			}
			for _, m := range spec.Metrics {
				if !spec.IsSQL() && m.jq == nil {
					t.Fatalf("%s: metric %s has no compiled jq expression", name, m.Name)
				}
			}
		}
	})
}

// Parsing any template text gives a template or an error, never a panic.
func FuzzParse(f *testing.F) {
	for _, name := range BuiltinNames() {
		b, _ := Builtin(name)
		f.Add(string(b))
	}
	f.Add(sqlTemplate)
	f.Fuzz(func(_ *testing.T, text string) {
		_, _ = Parse("p", "fuzz", []byte(text))
	})
}
