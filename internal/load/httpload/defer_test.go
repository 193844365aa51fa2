//go:build linux

package httpload

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"iter8.tools/iter8/internal/demo"
	"iter8.tools/iter8/internal/load"
)

// An answer read well after it arrived is timed at its arrival (the
// kernel's receive timestamp), not at its reading.
func TestDeferredAnswerTime(t *testing.T) {
	t.Parallel()
	addr, written := answerServer(t, 0)
	c := newH1Conn(addr, nil, 5*time.Second)
	defer func() { _ = c.Close() }()
	ctx := context.Background()
	c.preconnect(ctx)
	req := buildRequest(mustEndpoint(t, "http://"+addr+"/"))
	// The kernel starts stamping packets shortly after the first socket
	// asks (it flips a global switch from a work queue): answers before
	// that carry no timestamp.
	for try := 0; !c.raw.seen; try++ {
		if try == 50 {
			t.Fatal("no receive timestamp after 50 requests")
		}
		if out := c.do(ctx, req); out.Code != 200 {
			t.Fatalf("warm-up: %+v", out)
		}
		<-written
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 3 {
		if _, ok := c.begin(ctx, req, true); !ok {
			t.Fatalf("request %d: %v", i, c.err)
		}
		sent := c.sentAt
		<-written
		time.Sleep(10 * time.Millisecond)
		if readable(t, c) {
			t.Errorf("request %d: the deferred answer made the socket readable (it would wake the process)", i)
		}
		reading := time.Now()
		out := c.end(ctx)
		if out.Code != 200 || out.At.IsZero() {
			t.Fatalf("request %d: outcome %+v, want 200 with its arrival time", i, out)
		}
		if out.At.Before(sent) || !out.At.Before(reading) {
			t.Errorf("request %d: answer timed %v after the send, read %v after it: want a time between the two",
				i, out.At.Sub(sent), reading.Sub(sent))
		}
	}
	if !c.canDefer() {
		t.Error("a connection with receive timestamps cannot defer answers")
	}
}

// answerServer answers each request on one connection after delay, and
// signals on written once each answer is written.
func answerServer(t *testing.T, delay time.Duration) (addr string, written chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	written = make(chan struct{}, 4)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer func() { _ = c.Close() }()
		br := bufio.NewReader(c)
		for {
			if _, err := http.ReadRequest(br); err != nil {
				return
			}
			time.Sleep(delay)
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
			written <- struct{}{}
		}
	}()
	return ln.Addr().String(), written
}

// A deferred answer read after its request's deadline counts by when it
// arrived: in time, it is an answer (the read does not give up before
// looking); after the timeout, a timeout.
func TestDeferredReadAfterDeadline(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name           string
		delay, timeout time.Duration
		want           load.Outcome
	}{
		// (a timeout of a second: a busy machine may schedule the
		// server's goroutine late, and its answer is then rightly a
		// timeout)
		{"arrived in time", 0, time.Second, load.Outcome{Code: 200}},
		{"arrived after the timeout", 40 * time.Millisecond, 20 * time.Millisecond, load.Outcome{Err: load.Timeout}},
	} {
		addr, written := answerServer(t, tt.delay)
		c := newH1Conn(addr, nil, tt.timeout)
		ctx := context.Background()
		c.preconnect(ctx)
		if tt.want.Code == 200 {
			// (undated, an answer read after the deadline is a timeout;
			// a late answer is a timeout either way)
			warmStamps(t, c, buildRequest(mustEndpoint(t, "http://"+addr+"/")), func() { <-written })
		}
		if _, ok := c.begin(ctx, buildRequest(mustEndpoint(t, "http://"+addr+"/")), true); !ok {
			t.Fatalf("%s: %v", tt.name, c.err)
		}
		<-written
		time.Sleep(tt.timeout + 10*time.Millisecond) // past the deadline
		out := c.end(ctx)
		_ = c.Close()
		if out.Code != tt.want.Code || out.Err != tt.want.Err {
			t.Errorf("%s: outcome %+v, want %+v", tt.name, out, tt.want)
		}
	}
}

// readable reports whether c's socket is readable for epoll, as the
// runtime's poller sees it.
func readable(t *testing.T, c *h1Conn) bool {
	t.Helper()
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Close(ep) }()
	var n int
	err = c.raw.rc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
		if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
			t.Fatal(err)
		}
		events := make([]syscall.EpollEvent, 1)
		n, err = syscall.EpollWait(ep, events, 0)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// Against a real server at a rate it answers well within, the engine
// defers small answers through Send and Collect, and the server counts
// exactly the requests the report does. Large answers are never deferred:
// one larger than the connection's receive window would hold the server
// mid-answer until the worker's next due time (1 MiB answers at 100 req/s
// over 16 connections showed a service-time p99 of 160 ms for 0.5 ms).
func TestDeferredRun(t *testing.T) {
	if testing.Short() {
		t.Skip("1.5 s open-loop runs against a server; run without -short")
	}
	t.Parallel()
	for _, tt := range []struct {
		name     string
		body     int
		deferred bool
	}{
		{"64-byte answers", 0, true},
		{"answers of 1 MiB", 1 << 20, false},
		{"answers just over the limit", deferMaxAnswer, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, err := demo.StartHTTP(demo.HTTPConfig{BodySize: tt.body}, "")
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = srv.Close() }()
			tg, err := New(Config{Endpoints: []Endpoint{{URL: srv.URL() + "/deferred"}}, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			rep, err := load.Run(context.Background(), tg, load.Options{
				Pacer: load.Constant{PerSecond: 200}, Connections: 8, Requests: 300, Timeout: 5 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Total.Codes["200"] != 300 || srv.Count("GET", "/deferred") != 300 {
				t.Fatalf("codes %v, server %d: want 300 answered", rep.Total.Codes, srv.Count("GET", "/deferred"))
			}
			n := tg.deferred.Load()
			if tt.deferred && n == 0 {
				t.Errorf("no answer deferred at 200 req/s over 8 connections (service time p50 %.3f ms)", rep.Total.Service.PercentileMs(50))
			}
			if !tt.deferred && n != 0 {
				t.Errorf("%d answers deferred (service time p99 %.3f ms): want none", n, rep.Total.Service.PercentileMs(99))
			}
		})
	}
}

// An endpoint whose answers grow past the limit has no more answers
// deferred, on any connection, from the first large answer read.
func TestLargeAnswerStopsDeferral(t *testing.T) {
	t.Parallel()
	var large atomic.Bool
	small, big := []byte("ok"), make([]byte, 64<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		body := small
		if large.Load() {
			body = big
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	tg, err := New(Config{Endpoints: []Endpoint{{URL: srv.URL}}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	ctx := context.Background()
	a, b := tg.NewConn().(*conn), tg.NewConn().(*conn)
	defer func() { _ = a.Close(); _ = b.Close() }()
	stamped(t, a)
	stamped(t, b)
	if _, done := a.Send(ctx, 0); done {
		t.Fatal("a small answer was not deferred")
	}
	if out := a.Collect(ctx); out.Code != 200 {
		t.Fatalf("small answer: %+v", out)
	}
	large.Store(true)
	if _, done := a.Send(ctx, 0); done {
		t.Fatal("the first large answer, not yet seen, was not deferred")
	}
	if out := a.Collect(ctx); out.Code != 200 {
		t.Fatalf("large answer: %+v", out)
	}
	for name, c := range map[string]*conn{"the same connection": a, "another connection": b} {
		out, done := c.Send(ctx, 0)
		if !done {
			_ = c.Collect(ctx)
			t.Errorf("%s: an answer was deferred after a %d-byte answer", name, tg.eps[0].largest.Load())
		} else if out.Code != 200 {
			t.Errorf("%s: %+v", name, out)
		}
	}
}

// A deferred request that found its connection closed by the server goes
// over a new connection; until that one shows receive timestamps, its
// answer is read at once rather than deferred (it could not be timed), and
// from then on no answer from that endpoint is deferred.
func TestDeferredSendOverNewConnection(t *testing.T) {
	t.Parallel()
	var closeAfter atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !closeAfter.Load() {
			w.Header().Set("Content-Length", "2")
			_, _ = io.WriteString(w, "ok")
			return
		}
		// answer, then close without saying so (as an idle timeout would)
		nc, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		_, _ = io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		_ = nc.Close()
	}))
	defer srv.Close()
	tg, err := New(Config{Endpoints: []Endpoint{{URL: srv.URL}}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	ctx := context.Background()
	c := tg.NewConn().(*conn)
	defer func() { _ = c.Close() }()
	stamped(t, c)
	closeAfter.Store(true)
	if _, done := c.Send(ctx, 0); done {
		t.Fatal("the answer was not deferred")
	}
	if out := c.Collect(ctx); out.Code != 200 {
		t.Fatalf("answer before the close: %+v", out)
	}
	closeAfter.Store(false)
	waitReadable(t, c.h1[0]) // the server's close has arrived
	out, done := c.Send(ctx, 0)
	if !done {
		out = c.Collect(ctx)
		t.Errorf("the answer over a new connection without timestamps yet was deferred")
	}
	if out.Code != 200 {
		t.Errorf("over a new connection: %+v (%v), want 200", out, c.lastErr)
	}
	// a server that closes connections under the generator has no more
	// answers deferred, even once the new connection shows timestamps
	stamped(t, c)
	if _, done := c.Send(ctx, 0); !done {
		_ = c.Collect(ctx)
		t.Error("an answer was deferred after the server closed a connection under it")
	}
}

// stamped makes requests over c (to its endpoint 0) until the kernel
// stamps its connection's answers, so that they can be deferred (see
// TestDeferredAnswerTime).
func stamped(t *testing.T, c *conn) {
	t.Helper()
	for try := 0; c.h1[0] == nil || !c.h1[0].canDefer(); try++ {
		if try == 50 {
			t.Fatal("no receive timestamp after 50 requests")
		}
		if out := c.Do(context.Background(), 0); out.Code != 200 {
			t.Fatalf("warm-up: %+v", out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// warmStamps sends req over c until the kernel gives its answers receive
// timestamps (c can defer), calling answered after each answer: it starts
// stamping a while after the socket asks, from a work queue that a busy
// machine runs late (100 tries in 0.5 s were too few under two busy
// loops), and without a stamp an answer read after its deadline cannot be
// dated. It fails t after 10 s or on an answer that is not a 200.
func warmStamps(t *testing.T, c *h1Conn, req h1Req, answered func()) {
	t.Helper()
	for warm := time.Now(); c.raw == nil || !c.raw.canDefer(); {
		if out := c.do(context.Background(), req); out.Code != 200 || time.Since(warm) > 10*time.Second {
			t.Fatalf("warm-up request: %+v (%v)", out, c.err)
		}
		if answered != nil {
			answered()
		}
		time.Sleep(5 * time.Millisecond)
	}
}
