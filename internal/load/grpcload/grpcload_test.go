package grpcload

import (
	"context"
	"strings"
	"testing"
	"time"

	"iter8.tools/iter8/internal/demo"
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
