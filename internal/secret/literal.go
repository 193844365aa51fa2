package secret

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// sensitive matches names whose values are secret: request headers such as
// Authorization (or Authorisation, X-Auth, X-JWT) and Cookie, API and access
// keys (any name ending in a "key" word, X-Hook-Key), tokens, sessions,
// signatures, passwords, credentials, DSNs.
var sensitive = regexp.MustCompile(`(?i)(authori[sz]ation|authenticat|(^|[-_.])auth($|[-_.])|jwt|bearer|cookie|session|token|api[-_]?key|access[-_]?key|(^|[-_.])key$|secret|passw(or)?d|(^|[-_.])pwd($|[-_.])|credential|dsn|private[-_]?key|signature)`)

// Sensitive reports whether a name (a header, a metadata key, a template
// value) is one whose value is secret. Such values must be references.
func Sensitive(name string) bool { return sensitive.MatchString(name) }

// placeholder stands for a reference in the literal text of a value.
const placeholder = "\x00"

// literalText returns value with each reference replaced by placeholder and
// each "$${" escape by the "${" it stands for: the text given as it is.
func literalText(value string) string {
	return ref.ReplaceAllStringFunc(value, func(m string) string {
		if m == "$${" {
			return "${"
		}
		return placeholder
	})
}

// hasLiteral reports whether s holds text other than references.
func hasLiteral(s string) bool { return strings.ReplaceAll(s, placeholder, "") != "" }

var (
	// userinfo is a URL's user and password: scheme://user:password@.
	userinfo = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]*:([^/@\s]+)@`)
	// mysqlDSN is Go's MySQL DSN, user:password@tcp(host)/db.
	mysqlDSN = regexp.MustCompile(`(?:^|\s)[^\s:@/]+:([^\s@/]+)@(?:tcp|unix|udp)?[(/]`)
	// keyValue is a password in a key=value DSN, postgres' password=x.
	keyValue = regexp.MustCompile(`(?i)(?:^|[\s;?&])(?:password|pwd|passwd)\s*=\s*([^\s;&]+)`)
	// webhook is an incoming webhook URL whose path is its secret (Slack,
	// Discord, Microsoft Teams, Google Chat keys).
	webhook = regexp.MustCompile(`(?i)https?://(?:hooks\.slack\.com/(?:services|workflows|triggers)/|(?:[a-z0-9-]+\.)?discord(?:app)?\.com/api/webhooks/|[a-z0-9-]+\.webhook\.office\.com/|chat\.googleapis\.com/v1/spaces/[^\s?]*\?[^\s]*key=)([^\s"'<>]*)`)
	// queryParam is a query parameter whose name says it is secret.
	queryParam = regexp.MustCompile(`[?&]([A-Za-z0-9_.-]+)=([^&#\s"'<>]*)`)
	// schemeWord are the words that may stand beside a reference in a
	// sensitive value: authorisation schemes and the like.
	schemeWords = map[string]bool{"bearer": true, "basic": true, "token": true, "digest": true, "negotiate": true, "apikey": true, "api-key": true, "key": true, "jwt": true, "hmac": true, "sso-key": true}
)

// Literal reports why value, given for the input named name, holds a
// secret as it is rather than as a reference, or "" when it does not. It is
// the one place where iter8 recognises secrets:
//
//   - any value: a URL with a password (scheme://user:password@), a DSN
//     with a password (user:password@tcp(...), password=...), an incoming
//     webhook URL (Slack, Discord, Teams, Google Chat) whose secret path is
//     not a reference, a URL query parameter with a secret-looking name;
//   - a sensitive name (Sensitive): any text beside the references other
//     than an authorisation scheme (Bearer, Basic, token, ...), a key name
//     followed by "=", and separators. "Bearer ${env:TOKEN}" is fine,
//     "Bearer abc${env:TOKEN}" and "$${...}" (an escaped, literal "${") are not.
//
// Pass name "" to apply only the rules on values.
func Literal(name, value string) string {
	if value == "" {
		return ""
	}
	text := literalText(value)
	if !hasLiteral(text) {
		return ""
	}
	for _, m := range userinfo.FindAllStringSubmatch(text, -1) {
		if hasLiteral(m[1]) && !shellVariable(m[1]) {
			return "a password inside a URL"
		}
	}
	for _, m := range mysqlDSN.FindAllStringSubmatch(text, -1) {
		if hasLiteral(m[1]) && !shellVariable(m[1]) {
			return "a password inside a DSN"
		}
	}
	for _, m := range keyValue.FindAllStringSubmatch(text, -1) {
		if hasLiteral(m[1]) && !shellVariable(m[1]) {
			return "a password inside a DSN"
		}
	}
	for _, m := range webhook.FindAllStringSubmatch(text, -1) {
		if m[1] != "" && !strings.Contains(m[1], placeholder) {
			return "an incoming webhook URL, whose path is its secret"
		}
	}
	for _, m := range queryParam.FindAllStringSubmatch(text, -1) {
		if queryName(m[1]) && hasLiteral(m[2]) {
			return fmt.Sprintf("the URL query parameter %s", m[1])
		}
	}
	if name != "" && Sensitive(name) && !onlySchemes(text) {
		return fmt.Sprintf("%s is a secret-looking name", name)
	}
	return ""
}

// shellVariable reports whether a password is a shell variable ($PASSWORD,
// "${DB_PASSWORD}") in a run task's script: a reference, not a secret.
func shellVariable(s string) bool {
	return strings.HasPrefix(strings.TrimLeft(s, `"'`), "$")
}

// queryName reports whether a query parameter's name says it is secret
// (token, access_token, api_key, key, sig, password, ...).
func queryName(n string) bool {
	n = strings.ToLower(n)
	if uq, err := url.QueryUnescape(n); err == nil {
		n = uq
	}
	switch n {
	case "sig", "auth":
		return true
	}
	return Sensitive(n)
}

// onlySchemes reports whether the literal text of a sensitive value holds
// nothing secret: scheme words, key names followed by "=", separators.
func onlySchemes(text string) bool {
	for _, w := range strings.FieldsFunc(text, func(r rune) bool {
		return r == ' ' || r == '\t' || r == ',' || r == ';' || r == ':' || r == 0
	}) {
		if schemeWords[strings.ToLower(w)] {
			continue
		}
		if k, rest, ok := strings.Cut(w, "="); ok && rest == "" && validKey(k) {
			continue
		}
		return false
	}
	return true
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if r != '-' && r != '_' && r != '.' && (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// CheckLiteral returns an error when value, given for the input named name,
// holds a secret as it is (Literal): stored in an experiment, a literal
// secret would reach files, reports and logs. The error names the input and
// why, never the value.
func CheckLiteral(name, value string) error {
	why := Literal(name, value)
	if why == "" {
		return nil
	}
	return fmt.Errorf("%w: %s holds a secret as it is (%s): give it as a reference, ${env:NAME} or ${file:/path}, resolved when used and never stored", ErrSecret, name, why)
}
