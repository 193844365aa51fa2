package source

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// maxRedirects matches Go's default policy.
const maxRedirects = 10

// plainHeader reports whether iter8 sets header k on its own; any other
// header on a request (an API key, an Authorization the user wrote, a
// token) makes it secret-bearing.
func plainHeader(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Accept", "Accept-Encoding", "Content-Type", "Content-Length", "User-Agent", "Referer":
		return true
	}
	return false
}

// ErrCrossHostRedirect matches a redirect refused by CheckRedirect.
var ErrCrossHostRedirect = errors.New("source: redirect to another host refused")

// RedirectError is a redirect of a secret-bearing request to another origin
// (scheme, host and port); it matches ErrCrossHostRedirect. It names the
// origins and the headers, never their values.
type RedirectError struct {
	From, To string
	Headers  []string
}

// Error says where the redirect went and which headers kept it from being
// followed.
func (e *RedirectError) Error() string {
	return fmt.Sprintf("refusing a redirect from %s to %s: the request carries %s, which must not go to another host", e.From, e.To, strings.Join(e.Headers, ", "))
}

// Is matches ErrCrossHostRedirect.
func (e *RedirectError) Is(target error) bool { return target == ErrCrossHostRedirect }

// CheckRedirect is an http.Client CheckRedirect for requests that carry the
// user's headers to the user's URLs: it never sends a Referer (which may
// carry secret query parameters), and refuses a redirect to another origin
// when the first request carried any header besides plain ones, or
// credentials in its URL. Go itself drops only Authorization and Cookie.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	req.Header.Del("Referer")
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	first := via[0]
	from, to := origin(first.URL), origin(req.URL)
	if from == to {
		return nil
	}
	var secret []string
	for k := range first.Header {
		if !plainHeader(k) {
			secret = append(secret, k)
		}
	}
	if first.URL.User != nil {
		secret = append(secret, "credentials in the URL")
	}
	if len(secret) == 0 {
		return nil
	}
	sort.Strings(secret)
	return &RedirectError{From: from, To: to, Headers: secret}
}

// Client returns an http.Client that follows redirects by CheckRedirect.
func Client() *http.Client {
	return &http.Client{CheckRedirect: CheckRedirect}
}

// origin returns scheme://host:port, with the scheme's default port.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https":
			port = "443"
		default:
			port = "80"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}
