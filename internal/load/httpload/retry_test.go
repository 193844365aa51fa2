package httpload

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"iter8.tools/iter8/internal/demo/demotest"
	"iter8.tools/iter8/internal/load"
)

// closing is what a closer server does to a connection after its answers.
type closing int

const (
	closeAtOnce closing = iota // close before the next request arrives (an idle timeout)
	resetAtOnce                // reset the connection before the next request arrives
	send408                    // answer 408 before the next request arrives, then close
	readClose                  // read the next request, then close without answering
	readReset                  // read the next request, then reset the connection
)

// closer serves answers of 200 and ends connections: the first after
// first answers, with how; later ones after later answers (-1: never),
// by reading a request and closing. It returns the address and the count
// of connections accepted.
func closer(t *testing.T, first int, how closing, later int) (string, *atomic.Int32) {
	t.Helper()
	return serveConns(t, nil, func(c net.Conn, n int32) {
		if n == 1 {
			serveThenClose(c, first, how)
			return
		}
		serveThenClose(c, later, readClose)
	})
}

// serveConns accepts connections on 127.0.0.1 for the test, wraps each
// with wrap (when set: TLS, say) and serves it with serve, which learns
// its number (from 1). It returns the address and the count of
// connections accepted.
func serveConns(t *testing.T, wrap func(net.Conn) net.Conn, serve func(c net.Conn, n int32)) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if wrap != nil {
				c = wrap(c)
			}
			go serve(c, accepted.Add(1))
		}
	}()
	return ln.Addr().String(), &accepted
}

func serveThenClose(c net.Conn, answers int, how closing) {
	defer func() { _ = c.Close() }()
	br := bufio.NewReader(c)
	for n := 0; answers < 0 || n < answers; n++ {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
			return
		}
	}
	switch how {
	case closeAtOnce:
		return
	case resetAtOnce:
		_ = c.(*net.TCPConn).SetLinger(0)
		return
	case send408:
		time.Sleep(50 * time.Millisecond) // idle: the answer was read alone
		_, _ = io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
		return
	}
	if _, err := http.ReadRequest(br); err != nil {
		return
	}
	if how == readReset {
		_ = c.(*net.TCPConn).SetLinger(0)
	}
}

// A server that closed a connection while it was idle (an idle timeout,
// with or without a 408 first, by FIN or reset, before or after its first
// answer) does not fail the next request: it is sent again, once, over a
// new connection when nothing of it reached the server or when it can be
// replayed (GET without a body) on a connection that carried an answer,
// as net/http's Transport does. A POST the
// server read before closing, a new connection closed without an answer,
// and a second close are errors. A deferred answer found missing when
// collected is timed from the first send, the wait until then included
// (when the server closed the connection is unknown).
func TestServerClosedConnection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		method       string
		first        int
		how          closing
		later        int
		wantErr      load.ErrorKind
		wantAccepted int32
		// the request was sent again though it may have reached the
		// server (counted, load.Outcome.Replayed)
		wantReplayed bool
	}{
		{"GET after an idle close", "GET", 1, closeAtOnce, -1, "", 2, false},
		{"POST after an idle close", "POST", 1, closeAtOnce, -1, "", 2, false},
		{"POST after an idle reset", "POST", 1, resetAtOnce, -1, "", 2, false},
		{"POST after a 408 and an idle close", "POST", 1, send408, -1, "", 2, false},
		{"POST on a new connection closed while idle", "POST", 0, closeAtOnce, -1, "", 2, false},
		{"GET read, then closed", "GET", 1, readClose, -1, "", 2, true},
		{"GET read, then reset", "GET", 1, readReset, -1, "", 2, true},
		{"POST read, then closed", "POST", 1, readClose, -1, load.ConnClosed, 1, false},
		{"a new connection closed without an answer", "GET", 0, readClose, -1, load.ConnClosed, 1, false},
		{"closed again over the new connection", "GET", 1, readClose, 0, load.ConnClosed, 2, true},
	}
	for _, tt := range tests {
		for _, deferred := range []bool{false, true} {
			addr, accepted := closer(t, tt.first, tt.how, tt.later)
			tg, err := New(Config{Endpoints: []Endpoint{{URL: "http://" + addr + "/", Method: tt.method}}})
			if err != nil {
				t.Fatal(err)
			}
			req := tg.eps[0].req
			c := newH1Conn(addr, nil, 5*time.Second)
			ctx := context.Background()
			c.preconnect(ctx)
			if tt.first > 0 {
				if out := c.do(ctx, req); out.Code != 200 {
					t.Fatalf("%s: first request: %+v (%v)", tt.name, out, c.err)
				}
			}
			if tt.how < readClose {
				waitReadable(t, c) // the server's close has arrived
			}
			var out load.Outcome
			var ok bool
			if !deferred {
				out = c.do(ctx, req)
			} else if out, ok = c.begin(ctx, req, true); ok {
				time.Sleep(100 * time.Millisecond) // the worker sleeps until its next request is due
				reading := time.Now()
				out = c.end(ctx)
				at := out.At
				if at.IsZero() {
					// no receive timestamp (a new connection's first
					// answers may lack one): the engine takes the return
					at = time.Now()
				}
				if out.Err == "" && tt.how >= readClose && at.Before(reading) {
					t.Errorf("%s (deferred): answer sent again timed %v after the first send, before its collection %v after it: want the wait counted",
						tt.name, at.Sub(c.sentAt), reading.Sub(c.sentAt))
				}
			}
			if (tt.wantErr == "" && out.Code != 200) || out.Err != tt.wantErr {
				t.Errorf("%s (deferred %v): outcome %+v (%v), want code 200 or error %q", tt.name, deferred, out, c.err, tt.wantErr)
			}
			if n := accepted.Load(); n != tt.wantAccepted {
				t.Errorf("%s (deferred %v): %d connections, want %d", tt.name, deferred, n, tt.wantAccepted)
			}
			if c.replayed != tt.wantReplayed {
				t.Errorf("%s (deferred %v): replayed %v, want %v", tt.name, deferred, c.replayed, tt.wantReplayed)
			}
			if tt.later == 0 {
				// a request over a third, new connection that closes
				// without an answer is not sent again
				if out := c.do(ctx, req); out.Err != load.ConnClosed || accepted.Load() != tt.wantAccepted+1 {
					t.Errorf("%s (deferred %v): over a new connection: %+v after %d connections, want %q after %d",
						tt.name, deferred, out, accepted.Load(), load.ConnClosed, tt.wantAccepted+1)
				}
			}
			_ = c.Close()
		}
	}
}

// A server that answers before it has read a large request body (rejecting
// it: 413) and closes the connection cuts the request's write short; the
// answer is its outcome, not the write's error. One that closes without
// answering is a reset, and the request, part of which reached the
// server, is not sent again.
func TestAnswerBeforeBodyRead(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		answer string
		want   load.Outcome
	}{
		{"answered 413", "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", load.Outcome{Code: 413}},
		{"closed without an answer", "", load.Outcome{Err: load.ConnReset}},
	} {
		for _, deferred := range []bool{false, true} {
			addr, accepted := serveConns(t, nil, func(c net.Conn, _ int32) {
				// read the head only, answer, and close with the body
				// unread (a reset)
				if _, err := http.ReadRequest(bufio.NewReader(c)); err == nil {
					_, _ = io.WriteString(c, tt.answer)
				}
				_ = c.Close()
			})
			tg, err := New(Config{Endpoints: []Endpoint{{URL: "http://" + addr + "/upload", Method: "POST", Body: make([]byte, 8<<20)}}})
			if err != nil {
				t.Fatal(err)
			}
			c := newH1Conn(addr, nil, 5*time.Second)
			ctx := context.Background()
			c.preconnect(ctx)
			var out load.Outcome
			var ok bool
			if !deferred {
				out = c.do(ctx, tg.eps[0].req)
			} else if out, ok = c.begin(ctx, tg.eps[0].req, true); ok {
				out = c.end(ctx)
			}
			_ = c.Close()
			if out.Code != tt.want.Code || out.Err != tt.want.Err {
				t.Errorf("%s (deferred %v): outcome %+v (%v), want %+v", tt.name, deferred, out, c.err, tt.want)
			}
			if n := accepted.Load(); n != 1 {
				t.Errorf("%s (deferred %v): %d connections, want 1 (no second send)", tt.name, deferred, n)
			}
		}
	}
}

// Over TLS too, a request that finds its idle connection closed by the
// server (its idle timeout) goes over a new connection, POST as GET; a
// connection the server left open is used as it is (the session tickets a
// TLS 1.3 server sends after the handshake are not a close).
func TestTLSIdleClose(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name         string
		idle         time.Duration
		wantAccepted int32
	}{
		{"closed while idle", 50 * time.Millisecond, 2},
		{"left open", 0, 1},
	} {
		for _, method := range []string{"GET", "POST"} {
			var accepted atomic.Int32
			closed := make(chan struct{}, 4)
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				_, _ = io.WriteString(w, "ok")
			}))
			srv.Config.IdleTimeout = tt.idle
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				switch s {
				case http.StateNew:
					accepted.Add(1)
				case http.StateClosed:
					closed <- struct{}{}
				}
			}
			srv.StartTLS()
			ep := Endpoint{URL: srv.URL + "/", Method: method, TLS: TLS{InsecureSkipVerify: true}}
			if method == "POST" {
				ep.Body = []byte("hello")
			}
			tg, err := New(Config{Endpoints: []Endpoint{ep}, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			c := tg.NewConn().(*conn)
			ctx := context.Background()
			for i := range 2 {
				if i == 1 {
					time.Sleep(200 * time.Millisecond) // idle
					if tt.wantAccepted == 2 {
						// (and closed by the server: a busy machine
						// may run its idle timeout late, and a POST
						// sent meanwhile is rightly not sent again)
						select {
						case <-closed:
						case <-time.After(10 * time.Second):
							t.Fatalf("%s, %s: the server did not close the idle connection", tt.name, method)
						}
					}
				}
				if out := c.Do(ctx, 0); out.Code != 200 {
					t.Errorf("%s, %s: request %d: %+v (%v)", tt.name, method, i, out, c.lastErr)
				}
			}
			_ = c.Close()
			tg.Close()
			srv.Close()
			if n := accepted.Load(); n != tt.wantAccepted {
				t.Errorf("%s, %s: %d connections, want %d", tt.name, method, n, tt.wantAccepted)
			}
		}
	}
}

// tlsServe serves TLS connections with serve (over the demo CA) and
// returns the address and the count of connections accepted.
func tlsServe(t *testing.T, serve func(c net.Conn, n int32)) (string, *atomic.Int32) {
	t.Helper()
	ca, err := demotest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	conf, err := ca.ServerTLS("localhost", false)
	if err != nil {
		t.Fatal(err)
	}
	return serveConns(t, func(c net.Conn) net.Conn { return tls.Server(c, conf) }, serve)
}

// Over TLS as over plain TCP, a 408 a server sends before closing an idle
// connection, and empty lines it sends after an answer, fail no request.
func TestTLSIdleAnswers(t *testing.T) {
	t.Parallel()
	ok := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	for _, tt := range []struct {
		name         string
		serve        func(c net.Conn, n int32)
		wantAccepted int32
	}{
		{"a 408, then a close", func(c net.Conn, n int32) {
			if n == 1 {
				serveThenClose(c, 1, send408)
				return
			}
			serveThenClose(c, -1, readClose)
		}, 2},
		{"a line end after each answer", func(c net.Conn, _ int32) {
			defer func() { _ = c.Close() }()
			br := bufio.NewReader(c)
			for {
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, req.Body)
				_, _ = io.WriteString(c, ok)
				time.Sleep(20 * time.Millisecond) // after the answer was read
				_, _ = io.WriteString(c, "\r\n")
			}
		}, 1},
	} {
		addr, accepted := tlsServe(t, tt.serve)
		tg, err := New(Config{Endpoints: []Endpoint{{URL: "https://" + addr + "/", Method: "POST", Body: []byte("x"), TLS: TLS{InsecureSkipVerify: true}}}})
		if err != nil {
			t.Fatal(err)
		}
		c := tg.NewConn().(*conn)
		for i := range 3 {
			time.Sleep(100 * time.Millisecond) // idle
			if out := c.Do(context.Background(), 0); out.Code != 200 {
				t.Errorf("%s: request %d: %+v (%v)", tt.name, i, out, c.lastErr)
			}
		}
		_ = c.Close()
		tg.Close()
		if n := accepted.Load(); n != tt.wantAccepted {
			t.Errorf("%s: %d connections, want %d", tt.name, n, tt.wantAccepted)
		}
	}
}

// A new request dials with its whole timeout, whatever the request before
// it did: only a request sent again is held to what is left of its own.
func TestDialAfterARetry(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer srv.Close()
	tg, err := New(Config{Endpoints: []Endpoint{{URL: srv.URL + "/", TLS: TLS{InsecureSkipVerify: true}}}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	c := tg.NewConn().(*conn)
	defer func() { _ = c.Close() }()
	if out := c.Do(context.Background(), 0); out.Code != 200 {
		t.Fatalf("first request: %+v (%v)", out, c.lastErr)
	}
	// as after a request sent again long ago, whose connection then closed
	h := c.h1[0]
	h.reset()
	h.again, h.sentAt = true, time.Now().Add(-time.Hour)
	if out := c.Do(context.Background(), 0); out.Code != 200 {
		t.Errorf("a new request after a retry: %+v (%v)", out, c.lastErr)
	}
}

// A request sent again has only what is left of its own timeout, its new
// connection's set-up included: a GET the server held 700 ms and dropped,
// sent again to a server that never completes the TLS handshake, fails at
// its 1 s timeout, not 700 ms later.
func TestRetryKeepsTheTimeout(t *testing.T) {
	t.Parallel()
	const timeout, held = time.Second, 700 * time.Millisecond
	addr, accepted := tlsServe(t, func(c net.Conn, n int32) {
		defer func() { _ = c.Close() }()
		if n > 1 {
			time.Sleep(3 * time.Second) // no handshake
			return
		}
		br := bufio.NewReader(c)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		time.Sleep(held)
	})
	tg, err := New(Config{Endpoints: []Endpoint{{URL: "https://" + addr + "/", TLS: TLS{InsecureSkipVerify: true}}}, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	c := tg.NewConn().(*conn)
	defer func() { _ = c.Close() }()
	if out := c.Do(context.Background(), 0); out.Code != 200 {
		t.Fatalf("first request: %+v (%v)", out, c.lastErr)
	}
	start := time.Now()
	out := c.Do(context.Background(), 0)
	took := time.Since(start)
	if out.Err != load.Timeout || accepted.Load() != 2 {
		t.Errorf("outcome %+v (%v) over %d connections, want a timeout after a second connection", out, c.lastErr, accepted.Load())
	}
	// the whole timeout again for the retry would end at 1.7 s
	if took < timeout || took >= timeout+held/2 {
		t.Errorf("took %v, want about the %v timeout", took, timeout)
	}
}
