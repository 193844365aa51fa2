package secret

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// FuzzRedact checks that a secret leaves no piece of four or more bytes in
// a message, in the forms a server echoes it in (as it is, JSON-escaped
// with or without "\/", URL-encoded, upper or lower case) and cut by a
// truncation, at the end (Truncate, or cut before an ellipsis) or the start.
func FuzzRedact(f *testing.F) {
	f.Add("s3cr3t/t0ken+x", "HTTP 401: ", " is not valid", 20)
	f.Add("AbCd/eFgH", `{"error":"`, `"}`, 13)
	f.Add("hooks.slack.com/services/T/B/X", "Post ", ": refused", 0)
	f.Fuzz(func(t *testing.T, s, pre, post string, n int) {
		if len(s) < 8 || len(s) > 200 || !printableASCII(s) || strings.ContainsAny(s, "[]") {
			return
		}
		pieces := windows(s)
		for _, p := range pieces {
			if strings.Contains(strings.ToLower(pre+"\x00"+post), strings.ToLower(p)) {
				return // the message would hold the piece anyway
			}
		}
		r := &Redactor{}
		r.Remember(s)
		js, _ := json.Marshal(s)
		j := string(js[1 : len(js)-1])
		forms := []string{s, strings.ToUpper(s), strings.ToLower(s), j, strings.ReplaceAll(j, "/", `\/`), url.QueryEscape(s)}
		if n < 0 {
			n = -n
		}
		for _, form := range forms {
			msg := pre + form + post
			check := func(how, got string) {
				for _, p := range pieces {
					if strings.Contains(got, p) || strings.Contains(got, strings.ToUpper(p)) || strings.Contains(got, strings.ToLower(p)) {
						t.Fatalf("%s: %q kept %q of the secret %q: %q", how, msg, p, s, got)
					}
				}
			}
			check("Redact", r.Redact(msg))
			check("Truncate", r.Truncate(msg, n%(len(msg)+1)))
			// Cut elsewhere: the message ends or starts inside the secret.
			k := minCut + n%(len(form)-minCut+1)
			check("cut at the end", r.Redact(pre+form[:k]+"…"))
			check("cut at the start", r.Redact("…"+form[len(form)-k:]+post))
		}
	})
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// windows returns the secret's pieces of minCut bytes that hold a letter or
// a digit (a piece of punctuation alone says nothing of the secret).
func windows(s string) []string {
	var out []string
	for i := 0; i+minCut <= len(s); i++ {
		w := s[i : i+minCut]
		if strings.IndexFunc(w, func(r rune) bool {
			return ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
		}) >= 0 {
			out = append(out, w)
		}
	}
	return out
}
