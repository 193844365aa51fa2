package source

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func TestCheckRedirect(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	note := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, s)
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		note("other key=" + r.Header.Get("X-Api-Key") + " referer=" + r.Header.Get("Referer"))
	}))
	t.Cleanup(other.Close)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/final", http.StatusFound)
		default:
			note("origin key=" + r.Header.Get("X-Api-Key") + " referer=" + r.Header.Get("Referer"))
		}
	}))
	t.Cleanup(origin.Close)
	tests := []struct {
		name, path, key string
		want            string
		refused         bool
	}{
		{"same origin keeps the key, drops the Referer", "/here?token=s3cret", "k", "origin key=k referer=", false},
		{"another host without secrets is followed, without a Referer", "/away?token=s3cret", "", "other key= referer=", false},
		{"another host with a key is refused", "/away?token=s3cret", "k", "", true},
	}
	for _, tt := range tests {
		mu.Lock()
		seen = nil
		mu.Unlock()
		req, err := http.NewRequest(http.MethodGet, origin.URL+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tt.key != "" {
			req.Header.Set("X-Api-Key", tt.key)
		}
		req.Header.Set("User-Agent", "iter8")
		resp, err := Client().Do(req)
		if resp != nil {
			_ = resp.Body.Close()
		}
		mu.Lock()
		got := seen
		mu.Unlock()
		if tt.refused {
			want := "refusing a redirect from " + origin.URL + " to " + other.URL + ": the request carries X-Api-Key, which must not go to another host"
			if !errors.Is(err, ErrCrossHostRedirect) || !strings.Contains(err.Error(), want) || len(got) != 0 {
				t.Errorf("%s: err %v, seen %v", tt.name, err, got)
			}
			continue
		}
		if err != nil || len(got) != 1 || got[0] != tt.want {
			t.Errorf("%s: err %v, seen %v, want [%s]", tt.name, err, got, tt.want)
		}
	}
}

func TestOrigin(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ a, b string }{
		{"http://Example.com/a", "http://example.com:80/b"},
		{"https://h/a", "https://h:443/"},
	} {
		a, _ := http.NewRequest(http.MethodGet, tt.a, nil)
		b, _ := http.NewRequest(http.MethodGet, tt.b, nil)
		if origin(a.URL) != origin(b.URL) {
			t.Errorf("origin(%s) = %s, origin(%s) = %s", tt.a, origin(a.URL), tt.b, origin(b.URL))
		}
	}
	a, _ := http.NewRequest(http.MethodGet, "http://h:8080/", nil)
	b, _ := http.NewRequest(http.MethodGet, "https://h:8080/", nil)
	if origin(a.URL) == origin(b.URL) {
		t.Error("a scheme change is another origin")
	}
}
