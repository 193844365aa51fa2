package secret

import (
	"maps"
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
