package grpcload

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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
		want     load.Outcome
	}{
		{"ok", context.Background(), nil, future, load.Outcome{Code: 0}},
		{"deadline exceeded by the server", context.Background(), status.Error(codes.DeadlineExceeded, "downstream"), future, load.Outcome{Code: 4}},
		{"deadline come", context.Background(), status.Error(codes.DeadlineExceeded, "context deadline exceeded"), past, load.Outcome{Code: 4, Err: load.DeadlineExceeded}},
		{"reset by the server at the deadline", context.Background(), status.Error(codes.Canceled, "stream terminated by RST_STREAM with error code: CANCEL"), past, load.Outcome{Code: 4, Err: load.DeadlineExceeded}},
		{"internal", context.Background(), status.Error(codes.Internal, "boom"), future, load.Outcome{Code: 13}},
		{"unavailable", context.Background(), status.Error(codes.Unavailable, "connection refused"), future, load.Outcome{Code: 14, Err: "Unavailable"}},
		{"run cancelled", cancelled, errors.New("context canceled"), past, load.Outcome{Err: load.Canceled}},
	}
	for _, tt := range tests {
		if got := outcome(tt.ctx, tt.err, tt.deadline, now); got != tt.want {
			t.Errorf("%s: outcome %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// A server that answers with deadline-exceeded after 20 ms (its own
// downstream deadline) answered: its calls are errors timed at about
// 20 ms, not timeouts at the 5 s timeout.
func TestServerDeadlineStatusIsTimed(t *testing.T) {
	if testing.Short() {
		t.Skip("a load run against the demo gRPC server; runs without -short")
	}
	t.Parallel()
	srv, err := demo.StartGRPC(demo.GRPCConfig{}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Close() }()
	files, err := demo.Files(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	md, err := FindMethod(files, "iter8.demo.v1.Demo.Unary")
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 5 * time.Second
	tg, err := New(Config{Endpoints: []Endpoint{{Host: srv.Addr(), Method: md,
		Data: []byte(`{"options": {"code": 4, "delay_ms": 20}}`)}}, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	rep, err := load.Run(context.Background(), tg, load.Options{Connections: 2, Requests: 10, Timeout: timeout,
		IsError: func(_ int, out load.Outcome) bool { return out.Err != "" || out.Code != 0 }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Total.Errors != 10 || rep.Total.TimedOut != 0 {
		t.Errorf("%d errors, %d timed out (codes %v): want 10 errors, none timed out", rep.Total.Errors, rep.Total.TimedOut, rep.Total.Codes)
	}
	if max := rep.Total.Service.PercentileMs(100); max < 20 || max >= float64(timeout.Milliseconds()) {
		t.Errorf("service time max %.1f ms: want the server's 20 ms or more, under the %v timeout", max, timeout)
	}
}
