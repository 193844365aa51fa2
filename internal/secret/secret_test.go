package secret

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ITER8_SECRET_TEST", "env-token")
	tests := []struct {
		name, in, want, err string
	}{
		{"plain", "no references", "no references", ""},
		{"env", "Bearer ${env:ITER8_SECRET_TEST}", "Bearer env-token", ""},
		{"file", "${file:" + tokenFile + "}", "file-token", ""},
		{"two", "${env:ITER8_SECRET_TEST}:${file:" + tokenFile + "}", "env-token:file-token", ""},
		{"escaped", "$${env:ITER8_SECRET_TEST}", "${env:ITER8_SECRET_TEST}", ""},
		{"dollar alone", "cost $5 {x}", "cost $5 {x}", ""},
		{"unset", "${env:ITER8_SECRET_UNSET}", "", "resolving ${env:ITER8_SECRET_UNSET}: environment variable ITER8_SECRET_UNSET is not set"},
		{"missing file", "${file:" + dir + "/nope}", "", "resolving ${file:" + dir + "/nope}: reading the file: no such file or directory"},
		{"relative file", "${file:token}", "", `expected an absolute path, as in ${file:/run/secrets/token}, not "token"`},
		{"unknown kind", "${vault:x}", "", `unknown kind "vault"`},
		{"empty env name", "${env:}", "", "expected a variable name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.in)
			if tt.err != "" {
				if err == nil || !errors.Is(err, ErrSecret) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want ErrSecret containing %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Resolve(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestContains(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"Bearer ${env:TOKEN}": true,
		"${file:/x}":          true,
		"plain":               false,
		"$${env:TOKEN}":       false,
		"${notakind}":         false,
		"$${x} ${env:Y}":      true,
	} {
		if got := Contains(s); got != want {
			t.Errorf("Contains(%q) = %v, want %v", s, got, want)
		}
	}
}

// The error names the reference and never the secret.
func TestErrorsHideSecrets(t *testing.T) {
	t.Setenv("ITER8_SECRET_TEST", "env-token")
	_, err := Resolve("${env:ITER8_SECRET_TEST} ${env:ITER8_SECRET_UNSET}")
	if err == nil || strings.Contains(err.Error(), "env-token") {
		t.Errorf("error %v", err)
	}
}

func TestRedactor(t *testing.T) {
	t.Setenv("ITER8_SECRET_TEST", "t0k/en+x")
	var r Redactor
	v, err := r.Resolve("Bearer ${env:ITER8_SECRET_TEST}")
	if err != nil || v != "Bearer t0k/en+x" {
		t.Fatalf("Resolve: %q %v", v, err)
	}
	msg := `401: bad token t0k/en+x in GET /q?key=t0k%2Fen%2Bx and /p/t0k%2Fen+x`
	want := `401: bad token [redacted] in GET /q?key=[redacted] and /p/[redacted]`
	if got := r.Redact(msg); got != want {
		t.Errorf("Redact:\n got %q\nwant %q", got, want)
	}
	if got := (&Redactor{}).Redact(msg); got != msg {
		t.Errorf("an empty Redactor changed the message: %q", got)
	}
}

func TestCheckLiteral(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, value string
		bad         bool
	}{
		{"Authorization", "Bearer abc", true},
		{"authorization", "Bearer ${env:TOKEN}", false},
		{"X-Api-Key", "k3y-v4lue", true},
		{"Cookie", "${file:/run/cookie}", false},
		{"X-Request-Id", "42", false},
		{"Content-Type", "text/plain", false},
		{"password", "hunter2", true},
		{"token", "", false},
		{"dsn", "postgres://u:p@h/db", true},
	} {
		err := CheckLiteral(tt.name, tt.value)
		if (err != nil) != tt.bad {
			t.Errorf("CheckLiteral(%q, %q) = %v", tt.name, tt.value, err)
		}
		if err != nil && (!errors.Is(err, ErrSecret) || strings.Contains(err.Error(), tt.value)) {
			t.Errorf("error %v must match ErrSecret and not repeat the value", err)
		}
	}
}

func TestFirst(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                                 "",
		"plain":                            "",
		"$${env:HOME} is literal":          "",
		"a $${x} then ${file:/t} ${env:B}": "${file:/t}",
		"Bearer ${env:TOKEN}":              "${env:TOKEN}",
	} {
		if got := First(in); got != want {
			t.Errorf("First(%q) = %q, want %q", in, got, want)
		}
	}
}
