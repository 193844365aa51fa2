package secret

import (
	"errors"
	"strings"
	"testing"
)

func TestLiteral(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, value string
		want        string // a part of the reason, "" for no secret
	}{
		{"Authorization", "Bearer ${env:TOKEN}", ""},
		{"Authorization", "token ${file:/run/secrets/t}", ""},
		{"Cookie", "session=${env:S}; theme=${env:T}", ""},
		{"Authorization", "${env:USER}:${env:PASS}", ""},
		{"X-Request-Id", "abc123", ""},
		{"Authorization", "", ""},
		{"Authorization", "Bearer abc123", "secret-looking name"},
		{"Authorization", "Bearer abc${env:TOKEN}", "secret-looking name"},
		{"Authorization", "Bearer ${env:TOKEN} abc", "secret-looking name"},
		{"Authorization", "$${env:TOKEN}", "secret-looking name"},
		{"Authorisation", "Basic dXNlcjpwdw==", "secret-looking name"},
		{"X-Auth", "abc", "secret-looking name"},
		{"X-Auth-Token", "abc", "secret-looking name"},
		{"X-JWT", "eyJ", "secret-looking name"},
		{"X-Access-Key", "AKIA", "secret-looking name"},
		{"x-api-key", "k", "secret-looking name"},
		{"X-Session", "s", "secret-looking name"},
		{"X-Author", "jane", ""},
		{"url", "http://user:pw@127.0.0.1/", "a password inside a URL"},
		{"url", "http://user:${env:PW}@127.0.0.1/", ""},
		{"url", "http://user:pw${env:PW}@127.0.0.1/", "a password inside a URL"},
		{"url", "http://user@127.0.0.1/", ""},
		{"dsn", "postgres://iter8:hunter2@db/orders", "a password inside a URL"},
		{"db", "iter8:hunter2@tcp(db:3306)/orders", "a password inside a DSN"},
		{"db", "host=db user=iter8 password=hunter2 dbname=orders", "a password inside a DSN"},
		{"db", "host=db user=iter8 password=${env:PW}", ""},
		{"script", "mysql --password=$MYSQL_PASSWORD -e 'select 1'", ""},
		{"script", `curl -u x https://user:"$PW"@example.test`, ""},
		{"url", "https://hooks.slack.com/services/T000/B000/XXXXXXXX", "incoming webhook"},
		{"url", "HTTPS://HOOKS.SLACK.COM/services/T000/B000/XXXXXXXX", "incoming webhook"},
		{"url", "https://hooks.slack.com/services/T000/B000/${env:SLACK_KEY}", ""},
		{"url", "https://hooks.slack.com/services/T000/B000/$${x}", "incoming webhook"},
		{"url", "https://discord.com/api/webhooks/1/abc", "incoming webhook"},
		{"url", "http://127.0.0.1/api?access_token=abc", "query parameter access_token"},
		{"url", "http://127.0.0.1/api?token=${env:T}&page=2", ""},
		{"url", "http://127.0.0.1/api?page=2&q=up", ""},
		{"ready", "secret", ""},
	}
	for _, tt := range tests {
		got := Literal(tt.name, tt.value)
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("Literal(%q, %q) = %q, want %q", tt.name, tt.value, got, tt.want)
		}
	}
	err := CheckLiteral("Authorization", "Bearer hunter2")
	if !errors.Is(err, ErrSecret) || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "Authorization holds a secret as it is") {
		t.Errorf("CheckLiteral: %v", err)
	}
}

func TestRedactForms(t *testing.T) {
	t.Parallel()
	var r Redactor
	r.Remember("tok/En+1<2>&x\"y")
	for _, msg := range []string{
		`plain tok/En+1<2>&x"y end`,
		`json {"error":"bad tok\/En+1\u003c2\u003e\u0026x\"y"} end`,
		`json {"error":"bad tok\/En+1<2>&x\"y"} end`,
		`json {"error":"bad tok/En+1<2>&x\"y"} end`,
		`upper TOK/EN+1<2>&X"Y end`,
		`query tok%2FEn%2B1%3C2%3E%26x%22y end`,
		`cut at the end tok/En+1<…`,
		`cut at the end TOK/EN...`,
		`…n+1<2>&x"y cut at the start`,
	} {
		got := r.Redact(msg)
		if !strings.Contains(got, Redacted) || strings.Contains(strings.ToLower(got), "tok/") || strings.Contains(strings.ToLower(got), "en+1") {
			t.Errorf("Redact(%q) = %q", msg, got)
		}
	}
	// Truncate redacts before it cuts: no piece of the secret survives.
	msg := "the server said: " + "tok/En+1<2>&x\"y"
	for n := 0; n <= len(msg); n++ {
		if got := r.Truncate(msg, n); strings.Contains(got, "tok") {
			t.Errorf("Truncate(%d) = %q", n, got)
		}
	}
	// A URL secret: its path is redacted when a library prints the URL rebuilt.
	r.Remember("HTTPS://hooks.slack.com/services/T0/B0/s3cr3tpath")
	if got := r.Redact(`Post "https://hooks.slack.com/services/T0/B0/s3cr3tpath": refused`); strings.Contains(got, "s3cr3t") {
		t.Errorf("normalised URL: %q", got)
	}
	// A secret with white space, in a message that collapsed it.
	r.Remember("Tab\tSeparated\n  Token77")
	if got := r.Redact("echoed: Tab Separated Token77 end"); strings.Contains(got, "Token77") {
		t.Errorf("collapsed white space: %q", got)
	}
	var none *Redactor
	if none.Redact("x") != "x" {
		t.Error("a nil Redactor changes messages")
	}
}
