package httpload

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"iter8.tools/iter8/internal/demo"
	"iter8.tools/iter8/internal/demo/demotest"
	"iter8.tools/iter8/internal/load"
)

func TestReadResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		resp      string
		head      bool
		code      int
		closeConn bool
		rest      string // what must remain unread
		bad       bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloNEXT", false, 200, false, "NEXT", false},
		{"case-insensitive headers", "HTTP/1.1 404 Not Found\r\ncontent-LENGTH: 2\r\nCONNECTION: Close\r\n\r\nnoNEXT", false, 404, true, "NEXT", false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nNEXT", false, 200, false, "NEXT", false},
		{"no body on 204", "HTTP/1.1 204 No Content\r\n\r\nNEXT", false, 204, false, "NEXT", false},
		{"no body on HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nNEXT", true, 200, false, "NEXT", false},
		{"interim 100", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\nNEXT", false, 201, false, "NEXT", false},
		{"HTTP/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nxNEXT", false, 200, true, "NEXT", false},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nxNEXT", false, 200, false, "NEXT", false},
		{"read to close", "HTTP/1.1 200 OK\r\n\r\neverything", false, 200, true, "", false},
		{"long header", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 40000) + "\r\nContent-Length: 1\r\n\r\nxNEXT", false, 200, false, "NEXT", false},
		{"garbage", "SSH-2.0-OpenSSH\r\n\r\n", false, 0, true, "", true},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, 0, true, "", true},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, 0, true, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			br := bufio.NewReaderSize(strings.NewReader(tt.resp), 16<<10)
			code, closeConn, err := readResponse(br, tt.head)
			if tt.bad {
				if err == nil {
					t.Fatalf("accepted a bad response: code %d", code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			rest, _ := br.Peek(br.Buffered())
			if code != tt.code || closeConn != tt.closeConn || string(rest) != tt.rest {
				t.Errorf("got code %d close %v rest %q; want %d %v %q", code, closeConn, rest, tt.code, tt.closeConn, tt.rest)
			}
		})
	}
}

func TestBuildRequest(t *testing.T) {
	t.Parallel()
	tg, err := New(Config{Endpoints: []Endpoint{{
		URL: "http://127.0.0.1:8080/a/b?x=1", Body: []byte("hi"), ContentType: "text/plain",
		Headers: map[string]string{"X-B": "2", "X-A": "1"}, Host: "svc.example",
	}}})
	if err != nil {
		t.Fatal(err)
	}
	want := "POST /a/b?x=1 HTTP/1.1\r\nHost: svc.example\r\nUser-Agent: iter8\r\nX-A: 1\r\nX-B: 2\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi"
	if got := string(tg.eps[0].req.b); got != want {
		t.Errorf("request:\n%q\nwant\n%q", got, want)
	}
	for _, bad := range []Endpoint{
		{URL: "ftp://x/"},
		{URL: "http://x/", Method: "GET X"},
		{URL: "http://x/", Headers: map[string]string{"X": "a\r\nEvil: 1"}},
		{URL: "http://x/", Headers: map[string]string{"Bad Name": "1"}},
		{URL: "https://x/", TLS: TLS{CAFile: "/nonexistent.pem"}},
		{URL: "https://x/", TLS: TLS{CertFile: "c.pem"}},
	} {
		if _, err := New(Config{Endpoints: []Endpoint{bad}}); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

func TestConnCancel(t *testing.T) {
	t.Parallel()
	srv, err := demo.StartHTTP(demo.HTTPConfig{Latency: demo.Fixed(time.Hour)}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	tg, err := New(Config{Endpoints: []Endpoint{{URL: srv.URL()}}, Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := tg.NewConn()
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_ = srv.WaitRequests(context.Background(), 1)
		cancel()
	}()
	if out := c.Do(ctx, 0); out.Err != "canceled" {
		t.Errorf("outcome %+v, want canceled", out)
	}
}

// The first request to come back from each endpoint judges whether it can
// be reached: Unreachable is called once, for the first endpoint whose first
// answer was a transport failure, with its URL; later failures and
// reachable endpoints do not call it. Every request is an ordinary one.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	srv, err := demo.StartHTTP(demo.HTTPConfig{}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() + "/"
	_ = ln.Close()
	var calls []string
	tg, err := New(Config{
		Endpoints:   []Endpoint{{URL: srv.URL() + "/up"}, {URL: down}, {URL: down + "again"}},
		Unreachable: func(err error) { calls = append(calls, err.Error()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	c := tg.NewConn()
	defer func() { _ = c.Close() }()
	ctx := context.Background()
	for _, ep := range []int{0, 0, 1, 1, 2} {
		c.Do(ctx, ep)
	}
	if len(calls) != 1 || !strings.HasPrefix(calls[0], down+": ") || !strings.Contains(calls[0], "refused") {
		t.Errorf("Unreachable called with %q, want once for %s", calls, down)
	}
	if got := srv.Count("GET", "/up"); got != 2 {
		t.Errorf("the server counted %d requests, want the 2 sent", got)
	}
}

// BenchmarkH1RoundTrip measures one request on the fast HTTP/1.1 path
// against a minimal local responder, with and without the reachability
// check of Config.Unreachable; it must not allocate.
func BenchmarkH1RoundTrip(b *testing.B) {
	srv, err := demotest.StartRaw()
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	for _, check := range []bool{false, true} {
		b.Run(map[bool]string{false: "plain", true: "reachability"}[check], func(b *testing.B) {
			cfg := Config{Endpoints: []Endpoint{{URL: srv.URL() + "/bench"}}}
			if check {
				cfg.Unreachable = func(err error) { b.Fatal(err) }
			}
			tg, err := New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			c := tg.NewConn()
			defer func() { _ = c.Close() }()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if out := c.Do(ctx, 0); out.Code != 200 {
					b.Fatalf("outcome %+v", out)
				}
			}
		})
	}
}

// BenchmarkReadResponse measures response parsing alone.
func BenchmarkReadResponse(b *testing.B) {
	resp := []byte("HTTP/1.1 200 OK\r\nServer: nginx\r\nDate: Fri, 27 Nov 2026 12:00:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 64\r\nConnection: keep-alive\r\n\r\n" + strings.Repeat("x", 64))
	r := bytes.NewReader(resp)
	br := bufio.NewReaderSize(r, 16<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(resp)))
	for b.Loop() {
		r.Reset(resp)
		br.Reset(r)
		if _, _, err := readResponse(br, false); err != nil {
			b.Fatal(err)
		}
	}
}

// A target that cannot prepare an endpoint names it by index, as a typed
// error that keeps the cause.
func TestNewEndpointError(t *testing.T) {
	t.Parallel()
	_, err := New(Config{Endpoints: []Endpoint{{URL: "http://127.0.0.1:1/"}, {URL: "/relative"}}})
	var ee *load.EndpointError
	if !errors.As(err, &ee) || ee.Index != 1 || err.Error() != `endpoint 1: url "/relative": expected an absolute http:// or https:// URL` {
		t.Errorf("error %v", err)
	}
}
