package httpload

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
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

// h2Server serves HTTP/2 over TLS or cleartext (h2c) and counts the
// connections it accepted and closed.
func h2Server(t *testing.T, tlsOn bool, accepted, closed *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			accepted.Add(1)
		case http.StateClosed:
			closed.Add(1)
		}
	}
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	if tlsOn {
		srv.EnableHTTP2 = true
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// An HTTP/2 endpoint's first connection is made before the clock starts
// (Preconnect), over TLS and cleartext alike, and its first request uses
// it: the request does not pay for the handshakes. One that the server
// closed meanwhile (a short idle timeout) is replaced, not used; one never
// used is closed with the target.
func TestHTTP2Preconnect(t *testing.T) {
	t.Parallel()
	for _, tlsOn := range []bool{false, true} {
		for _, tt := range []struct {
			name                   string
			serverCloses, noUse    bool
			wantAccepted, wantShut int32
		}{
			{"used", false, false, 1, 0},
			{"closed by the server first", true, false, 2, 1},
			{"never used", false, true, 1, 1},
		} {
			var accepted, closed atomic.Int32
			srv := h2Server(t, tlsOn, &accepted, &closed)
			tg, err := New(Config{Endpoints: []Endpoint{{URL: srv.URL + "/", HTTP2: true, TLS: TLS{InsecureSkipVerify: true}}}, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			c := tg.NewConn().(*conn)
			c.Preconnect(context.Background())
			second := tg.NewConn().(*conn)
			second.Preconnect(context.Background()) // one connection for all workers
			waitFor(t, func() bool { return accepted.Load() == 1 })
			if tt.serverCloses {
				srv.CloseClientConnections()
				waitFor(t, func() bool { return closed.Load() == 1 })
			}
			for range map[bool]int{false: 3, true: 0}[tt.noUse] {
				if out := c.Do(context.Background(), 0); out.Code != 200 {
					t.Errorf("TLS %v, %s: %+v (%v)", tlsOn, tt.name, out, c.lastErr)
				}
			}
			if !tt.noUse {
				if n, shut := accepted.Load(), closed.Load(); n != tt.wantAccepted || shut != tt.wantShut {
					t.Errorf("TLS %v, %s: %d connections accepted, %d closed; want %d, %d", tlsOn, tt.name, n, shut, tt.wantAccepted, tt.wantShut)
				}
			}
			_ = c.Close()
			_ = second.Close()
			tg.Close()
			if tt.noUse {
				waitFor(t, func() bool { return closed.Load() == tt.wantShut })
			}
			if proto := tg.Protocols()[0]; !tt.noUse && proto != "HTTP/2.0" {
				t.Errorf("TLS %v, %s: %s, want HTTP/2.0", tlsOn, tt.name, proto)
			}
		}
	}
}

// waitFor waits up to 5 s for cond (a server's count of what it accepted,
// which it learns a moment after the client).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(time.Millisecond)
	}
}
