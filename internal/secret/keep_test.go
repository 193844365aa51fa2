package secret

import (
	"maps"
	"strings"
	"testing"
)

func TestLift(t *testing.T) {
	t.Parallel()
	ref := func(k string) string { return "${file:/k/" + k + "}" }
	tests := []struct {
		name, value, want string
		kept              map[string]string
	}{
		{"a literal", "abc123", "${file:/k/h}", map[string]string{"h": "abc123"}},
		{"a scheme and a literal", "Bearer abc123", "${file:/k/h}", map[string]string{"h": "Bearer abc123"}},
		{"a reference stays", "Bearer ${env:T}", "Bearer ${env:T}", map[string]string{}},
		{"mixed", "Bearer abc${env:T}", "${file:/k/h}${env:T}", map[string]string{"h": "Bearer abc"}},
		{"two runs", "u1${env:T}/p2", "${file:/k/h}${env:T}${file:/k/h.2}", map[string]string{"h": "u1", "h.2": "/p2"}},
		{"a separator stays", "${env:A}:${env:B}", "${env:A}:${env:B}", map[string]string{}},
		{"an escape is kept as written", "$${abc}", "${file:/k/h}", map[string]string{"h": "${abc}"}},
		{"an escape beside a reference", "x$${y${env:T}", "${file:/k/h}${env:T}", map[string]string{"h": "x${y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, kept := Lift(tt.value, "h", ref)
			if got != tt.want || !maps.Equal(kept, tt.kept) {
				t.Errorf("Lift(%q) = %q, %v; want %q, %v", tt.value, got, kept, tt.want, tt.kept)
			}
		})
	}
}

func TestKeyOf(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http.headers.Authorization": "http.headers.Authorization",
		"custommetrics.values.a b/c": "custommetrics.values.a_b_c",
		"..":                         "secret",
	} {
		if got := KeyOf(in); got != want {
			t.Errorf("KeyOf(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzLift checks that lifting a value keeps its meaning (resolving the
// kept files and escapes gives what the value gave) and leaves nothing
// secret-looking in it, under a sensitive name or by the value rules.
func FuzzLift(f *testing.F) {
	f.Add("Bearer abc${env:T}")
	f.Add("u1${env:T}/p2$${x")
	f.Add("https://hooks.slack.com/services/T0/B0/XXXX")
	f.Add("postgres://u:pw@127.0.0.1/db?sslmode=disable")
	f.Fuzz(func(t *testing.T, v string) {
		if strings.Contains(v, "${file:/k/") {
			return // the test's own reference form
		}
		lifted, kept := Lift(v, "h", func(k string) string { return "${file:/k/" + k + "}" })
		expand := func(s string, kept map[string]string) string {
			return ref.ReplaceAllStringFunc(s, func(m string) string {
				if m == "$${" {
					return "${"
				}
				if k, ok := strings.CutPrefix(m, "${file:/k/"); ok {
					if sec, ok := kept[strings.TrimSuffix(k, "}")]; ok {
						return sec
					}
				}
				return m
			})
		}
		if got, want := expand(lifted, kept), expand(v, nil); got != want {
			t.Errorf("Lift(%q) = %q, %v: resolves to %q, want %q", v, lifted, kept, got, want)
		}
		if why := Literal("Authorization", lifted); why != "" {
			t.Errorf("Lift(%q) = %q still holds a secret: %s", v, lifted, why)
		}
	})
}
