package secret

import (
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Redactor resolves references like Resolve and remembers the secrets it
// produced, so that messages which may echo them (a server's error body, a
// driver's error) can be cleaned with Redact. The zero value is ready to use;
// a nil *Redactor redacts nothing. It is not safe for concurrent use.
type Redactor struct {
	secrets []string
	// forms are the spellings of the secrets Redact looks for, longest
	// first; re matches any of them, case-insensitively.
	forms []string
	re    *regexp.Regexp
}

// Redacted replaces a secret in messages cleaned by Redact.
const Redacted = "[redacted]"

// minCut is the shortest piece of a secret, cut by a truncation at the end
// or the start of a message, that Redact still removes.
const minCut = 4

// Redact returns msg with every secret resolved so far replaced by
// Redacted, in any of the forms a server or a library may echo it in: as
// it is, URL-encoded, JSON-escaped (with "/" escaped as "\/" or not), in
// any letter case, and cut by a truncation at the end of msg (before an
// ellipsis) or at its start.
func (r *Redactor) Redact(msg string) string {
	if r == nil || len(r.secrets) == 0 || msg == "" {
		return msg
	}
	// Collect every place a secret shows, overlapping ones included (a
	// secret that overlaps itself must not leave a piece between two
	// replacements), then replace the merged spans.
	var spans [][2]int
	for pos := 0; pos < len(msg); {
		loc := r.re.FindStringIndex(msg[pos:])
		if loc == nil {
			break
		}
		spans = append(spans, [2]int{pos + loc[0], pos + loc[1]})
		_, size := utf8.DecodeRuneInString(msg[pos+loc[0]:])
		pos += loc[0] + size
	}
	spans = append(spans, r.cuts(msg)...)
	if len(spans) == 0 {
		return msg
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	var b strings.Builder
	last := 0
	for i := 0; i < len(spans); {
		start, end := spans[i][0], spans[i][1]
		for i++; i < len(spans) && spans[i][0] <= end; i++ {
			end = max(end, spans[i][1])
		}
		b.WriteString(msg[last:start])
		b.WriteString(Redacted)
		last = end
	}
	b.WriteString(msg[last:])
	return b.String()
}

// Truncate returns msg redacted and then cut to at most n bytes (on a
// character boundary) followed by "…": redacting first means a cut can
// never leave part of a secret behind.
func (r *Redactor) Truncate(msg string, n int) string {
	msg = r.Redact(msg)
	if len(msg) <= n {
		return msg
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}

// Remember adds secrets obtained otherwise than through Resolve (a value
// derived from a resolved secret, a literal kept beside the experiment).
func (r *Redactor) Remember(secrets ...string) {
	for _, s := range secrets {
		r.remember(s)
	}
}

func (r *Redactor) remember(v string) {
	if v == "" || slices.Contains(r.secrets, v) {
		return
	}
	r.secrets = append(r.secrets, v)
	// A URL's password, query values and (for a webhook) path are secrets
	// too: a library may print the URL rebuilt, its scheme and host
	// normalised.
	if u, err := url.Parse(v); err == nil && u.Scheme != "" && u.Host != "" {
		if p, ok := u.User.Password(); ok && len(p) >= minCut {
			r.add(p)
		}
		if len(u.Path) > minCut && strings.Contains(Literal("", v), "webhook") {
			r.add(u.Path) // a webhook's path is its secret; other paths are not
		}
		for _, vs := range u.Query() {
			for _, q := range vs {
				if len(q) >= minCut {
					r.add(q)
				}
			}
		}
	}
	r.add(v)
}

// add records the spellings of secret s and rebuilds the matcher.
func (r *Redactor) add(s string) {
	for _, f := range Forms(s) {
		if !slices.Contains(r.forms, f) {
			r.forms = append(r.forms, f)
		}
	}
	// Longest first, so a secret containing another is replaced whole.
	sort.SliceStable(r.forms, func(i, j int) bool { return len(r.forms[i]) > len(r.forms[j]) })
	quoted := make([]string, len(r.forms))
	for i, f := range r.forms {
		quoted[i] = regexp.QuoteMeta(f)
	}
	r.re = regexp.MustCompile(`(?i)(?:` + strings.Join(quoted, "|") + `)`)
}

// Forms returns the spellings of secret s that Redact matches (each also in
// any letter case): s, its URL query and path encodings, its JSON string
// encodings with and without "\/", and, for a secret with tabs, line ends
// or runs of spaces, the same with its white space collapsed to single
// spaces (as a message that tidies a body prints it).
func Forms(s string) []string {
	forms := []string{s}
	addForm := func(f string) {
		if f != "" && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	if c := strings.Join(strings.Fields(s), " "); len(c) >= minCut {
		addForm(c)
	}
	addForm(url.QueryEscape(s))
	addForm(url.PathEscape(s))
	if b, err := json.Marshal(s); err == nil {
		j := string(b[1 : len(b)-1])
		addForm(j)
		addForm(strings.ReplaceAll(j, "/", `\/`))
		// Encoders that do not escape <, > and & (most outside Go).
		u := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(j)
		addForm(u)
		addForm(strings.ReplaceAll(u, "/", `\/`))
	}
	return forms
}

// cuts returns where a piece of a secret is left at the end of msg
// (before an optional ellipsis) or at its start (after one) by a
// truncation elsewhere: the longest such piece of every form.
func (r *Redactor) cuts(msg string) [][2]int {
	var spans [][2]int
	end := len(msg)
	for _, e := range []string{"…\"", "...\"", "…", "..."} {
		if strings.HasSuffix(msg, e) {
			end -= len(e)
			break
		}
	}
	start := 0
	for _, e := range []string{"…", "..."} {
		if strings.HasPrefix(msg, e) {
			start = len(e)
			break
		}
	}
	for _, f := range r.forms {
		for n := min(len(f), end); n >= minCut; n-- {
			if foldEqual(msg[end-n:end], f[:n]) {
				spans = append(spans, [2]int{end - n, end})
				break
			}
		}
		for n := min(len(f), len(msg)-start); n >= minCut; n-- {
			if foldEqual(msg[start:start+n], f[len(f)-n:]) {
				spans = append(spans, [2]int{start, start + n})
				break
			}
		}
	}
	return spans
}

// foldEqual compares ASCII letters without case and other bytes exactly, so
// that pieces of multi-byte characters compare safely.
func foldEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
