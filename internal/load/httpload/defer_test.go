//go:build linux

package httpload

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	written := make(chan struct{}, 4)
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
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
				return
			}
			written <- struct{}{}
		}
	}()
	addr := ln.Addr().String()
	c := newH1Conn(addr, nil, 5*time.Second)
	defer func() { _ = c.Close() }()
	ctx := context.Background()
	c.preconnect(ctx)
	req := buildRequest(mustEndpoint(t, "http://"+addr+"/"))
	for i := range 3 {
		if _, ok := c.begin(ctx, req, false, true); !ok {
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
// defers answers through Send and Collect, and the server counts exactly
// the requests the report does.
func TestDeferredRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a 1.5 s open-loop run against a server; runs without -short")
	}
	t.Parallel()
	srv, err := demo.StartHTTP(demo.HTTPConfig{}, "")
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
	if tg.deferred.Load() == 0 {
		t.Errorf("no answer deferred at 200 req/s over 8 connections (service time p50 %.3f ms)", rep.Total.Service.PercentileMs(50))
	}
}
