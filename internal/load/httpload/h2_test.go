package httpload

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"iter8.tools/iter8/internal/load"
)

// A server that resets an HTTP/2 request's stream instead of answering it
// (a handler aborted: RST_STREAM) gives a stream-reset error, and the
// connection carries the next request.
func TestHTTP2StreamReset(t *testing.T) {
	t.Parallel()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/abort" {
			panic(http.ErrAbortHandler)
		}
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	tg, err := New(Config{Endpoints: []Endpoint{{URL: srv.URL + "/abort", HTTP2: true}, {URL: srv.URL + "/", HTTP2: true}}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	c := tg.NewConn().(*conn)
	defer func() { _ = c.Close() }()
	if out := c.Do(context.Background(), 0); out.Err != load.StreamReset {
		t.Errorf("a reset stream: %+v (%v), want %s", out, c.lastErr, load.StreamReset)
	}
	if out := c.Do(context.Background(), 1); out.Code != 200 {
		t.Errorf("the next request: %+v (%v)", out, c.lastErr)
	}
}
