package grpcload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	"iter8.tools/iter8/internal/demo"
	"iter8.tools/iter8/internal/load"
)

func TestParseCall(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, svc, method string }{
		{"helloworld.Greeter.SayHello", "helloworld.Greeter", "SayHello"},
		{"helloworld.Greeter/SayHello", "helloworld.Greeter", "SayHello"},
		{"/grpc.health.v1.Health/Check", "grpc.health.v1.Health", "Check"},
		{"Greeter.SayHello", "Greeter", "SayHello"},
	}
	for _, tt := range tests {
		svc, m, err := ParseCall(tt.in)
		if err != nil || svc != tt.svc || m != tt.method {
			t.Errorf("ParseCall(%q) = %q, %q, %v", tt.in, svc, m, err)
		}
	}
	for _, bad := range []string{"", "SayHello", "a/b/c", "/x", "a.b/"} {
		if _, _, err := ParseCall(bad); err == nil {
			t.Errorf("ParseCall(%q) accepted", bad)
		}
	}
}

func TestBuildMessages(t *testing.T) {
	t.Parallel()
	files, err := demo.Files(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	md, err := FindMethod(files, "iter8.demo.v1.Demo.Bidi")
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := buildMessages(md, []byte(`[{"name": "a"}, {"count": 2, "sent": "2026-11-27T12:00:00Z"}]`))
	if err != nil || len(msgs) != 2 || len(msgs[0]) == 0 {
		t.Fatalf("messages %v, %v", msgs, err)
	}
	for _, bad := range []string{`{"name": 1}`, `[{"nope": 1}]`, `{"count": "many"}`, `not json`} {
		if _, err := buildMessages(md, []byte(bad)); err == nil || !strings.Contains(err.Error(), "iter8.demo.v1.Request") {
			t.Errorf("buildMessages(%s) = %v", bad, err)
		}
	}
}

// BenchmarkUnaryCall measures one unary call through the target against the
// in-process demo server's health service (a cheap server side), with
// allocations: client and server share the process, so both count.
func BenchmarkUnaryCall(b *testing.B) {
	srv, err := demo.StartGRPC(demo.GRPCConfig{}, "")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	cc, err := Dial(srv.Addr(), nil, "")
	if err != nil {
		b.Fatal(err)
	}
	files, err := FromReflection(context.Background(), cc, nil, "grpc.health.v1.Health")
	_ = cc.Close()
	if err != nil {
		b.Fatal(err)
	}
	md, err := FindMethod(files, "grpc.health.v1.Health.Check")
	if err != nil {
		b.Fatal(err)
	}
	tg, err := New(Config{Endpoints: []Endpoint{{Host: srv.Addr(), Method: md}}, Timeout: 10 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer tg.Close()
	if err := tg.Probe(context.Background()); err != nil {
		b.Fatal(err)
	}
	c := tg.NewConn()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if out := c.Do(ctx, 0); out.Code != 0 {
			b.Fatalf("outcome %+v", out)
		}
	}
}

// A call's status maps to an outcome: deadline-exceeded is a timeout only
// once the call's deadline has come by the clock; before it, the server
// sent that status, and it is an answer (timed); a stream the server reset
// when the deadline it was told came is a timeout even if the client's own
// timer has not fired yet.
func TestOutcome(t *testing.T) {
	t.Parallel()
	now := time.Now()
	past, future := now.Add(-time.Millisecond), now.Add(time.Second)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		err      error
		deadline time.Time
		answered bool // the server sent a response header or trailer
		want     load.Outcome
	}{
		{"ok", context.Background(), nil, future, true, load.Outcome{Code: 0}},
		{"deadline exceeded by the server", context.Background(), status.Error(codes.DeadlineExceeded, "downstream"), future, true, load.Outcome{Code: 4}},
		{"deadline come", context.Background(), status.Error(codes.DeadlineExceeded, "context deadline exceeded"), past, false, load.Outcome{Code: 4, Err: load.DeadlineExceeded}},
		{"reset by the server at the deadline", context.Background(), status.Error(codes.Canceled, "stream terminated by RST_STREAM with error code: CANCEL"), past, false, load.Outcome{Code: 4, Err: load.DeadlineExceeded}},
		{"internal", context.Background(), status.Error(codes.Internal, "boom"), future, true, load.Outcome{Code: 13}},
		{"unavailable, no connection", context.Background(), status.Error(codes.Unavailable, "connection refused"), future, false, load.Outcome{Code: 14, Err: "Unavailable"}},
		{"unavailable, sent by the server", context.Background(), status.Error(codes.Unavailable, "overloaded"), future, true, load.Outcome{Code: 14}},
		{"cancelled, sent by the server", context.Background(), status.Error(codes.Canceled, "gave up"), future, true, load.Outcome{Code: 1}},
		{"stream reset", context.Background(), status.Error(codes.Canceled, "stream terminated by RST_STREAM"), future, false, load.Outcome{Code: 1, Err: "Canceled"}},
		{"run cancelled", cancelled, errors.New("context canceled"), past, false, load.Outcome{Err: load.Canceled}},
	}
	for _, tt := range tests {
		if got := outcome(tt.ctx, tt.err, tt.deadline, now, tt.answered); got != tt.want {
			t.Errorf("%s: outcome %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// A server that answers with an error status after 20 ms answered: its
// calls are errors timed at about 20 ms. Deadline-exceeded (its own
// downstream deadline ran out) is not a timeout at the 5 s timeout, and
// unavailable (shedding load) is not left out of the latency as a failed
// connection would be.
func TestServerErrorStatusIsTimed(t *testing.T) {
	if testing.Short() {
		t.Skip("load runs against the demo gRPC server; runs without -short")
	}
	t.Parallel()
	srv, md := demoUnary(t)
	const timeout = 5 * time.Second
	for _, code := range []codes.Code{codes.DeadlineExceeded, codes.Unavailable, codes.Canceled} {
		tg, err := New(Config{Endpoints: []Endpoint{{Host: srv.Addr(), Method: md,
			Data: []byte(fmt.Sprintf(`{"options": {"code": %d, "delay_ms": 20}}`, code))}}, Timeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := load.Run(context.Background(), tg, load.Options{Connections: 2, Requests: 10, Timeout: timeout,
			IsError: func(_ int, out load.Outcome) bool { return out.Err != "" || out.Code != 0 }})
		tg.Close()
		if err != nil {
			t.Fatal(err)
		}
		if rep.Total.Errors != 10 || rep.Total.TimedOut != 0 || rep.Total.Service.Count() != 10 {
			t.Errorf("%v: %d errors, %d timed out, %d timed (codes %v): want 10 errors, none timed out, all timed",
				code, rep.Total.Errors, rep.Total.TimedOut, rep.Total.Service.Count(), rep.Total.Codes)
		}
		if max := rep.Total.Service.PercentileMs(100); rep.Total.Service.Count() > 0 && (max < 20 || max >= float64(timeout.Milliseconds())) {
			t.Errorf("%v: service time max %.1f ms: want the server's 20 ms or more, under the %v timeout", code, max, timeout)
		}
	}
}

// Calls that found no server (nothing listens at the address) are errors
// by kind, not timed: their quick failure is no service time.
func TestNoServerIsNotTimed(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	md := demoMethod(t)
	tg, err := New(Config{Endpoints: []Endpoint{{Host: addr, Method: md, Data: []byte(`{}`)}}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	rep, err := load.Run(context.Background(), tg, load.Options{Connections: 1, Requests: 3, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Errors != 3 || rep.Total.Service.Count() != 0 {
		t.Errorf("%d errors, %d timed (codes %v): want 3 errors, none timed", rep.Total.Errors, rep.Total.Service.Count(), rep.Total.Codes)
	}
}

// A call whose request is rendered from a data template says when it was
// sent, after the rendering (the generator's time, see load.Outcome.Sent);
// one with a fixed request leaves that to the engine.
func TestTemplateCallSaysWhenSent(t *testing.T) {
	t.Parallel()
	srv, md := demoUnary(t)
	for _, tt := range []struct {
		data     string
		wantSent bool
	}{
		{`{"name": "call {{.RequestNumber}}"}`, true},
		{`{"name": "call"}`, false},
	} {
		tg, err := New(Config{Endpoints: []Endpoint{{Host: srv.Addr(), Method: md, Data: []byte(tt.data)}}, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		out := tg.NewConn().Do(context.Background(), 0)
		after := time.Now()
		tg.Close()
		if out.Code != 0 || out.Sent.IsZero() != !tt.wantSent || (tt.wantSent && (out.Sent.Before(before) || out.Sent.After(after))) {
			t.Errorf("data %s: outcome %+v: want code 0 and a send time %v", tt.data, out, tt.wantSent)
		}
	}
}

// demoUnary starts the demo gRPC server for the test and returns it with
// its unary method.
func demoUnary(t *testing.T) (*demo.GRPC, protoreflect.MethodDescriptor) {
	t.Helper()
	srv, err := demo.StartGRPC(demo.GRPCConfig{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, demoMethod(t)
}

// demoMethod returns the demo service's unary method.
func demoMethod(t *testing.T) protoreflect.MethodDescriptor {
	t.Helper()
	files, err := demo.Files(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	md, err := FindMethod(files, "iter8.demo.v1.Demo.Unary")
	if err != nil {
		t.Fatal(err)
	}
	return md
}
