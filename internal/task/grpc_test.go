package task

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"iter8.tools/iter8/internal/demo"
	"iter8.tools/iter8/internal/inputs"
)

// The same unary call works from .proto files with imports, a protoset and
// server reflection; the server sees the data sent.
func TestGRPCDescriptorSources(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	protoFile, err := demo.WriteDemoProtos(filepath.Join(dir, "protos"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := demo.Protoset(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	protoset := filepath.Join(dir, "demo.protoset")
	if err := os.WriteFile(protoset, set, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		with map[string]any
	}{
		{"proto with imports", map[string]any{"proto": protoFile, "import-paths": []any{filepath.Join(dir, "protos")}}},
		{"protoset", map[string]any{"protoset": protoset}},
		{"reflection", map[string]any{}},
		{"slash call form", map[string]any{"call": "iter8.demo.v1.Demo/Unary"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := startGRPC(t, demo.GRPCConfig{})
			with := map[string]any{
				"host": srv.Addr(), "call": "iter8.demo.v1.Demo.Unary", "total": 50.0, "concurrency": 4.0,
				"data":     map[string]any{"name": "from " + tt.name, "options": map[string]any{"delayMs": 1}},
				"metadata": map[string]any{"x-iter8": tt.name},
			}
			for k, v := range tt.with {
				with[k] = v
			}
			exp, err := runTemp(t, newGRPC, with)
			if err != nil {
				t.Fatal(err)
			}
			if srv.Calls("Unary") != 50 || value(t, exp, "grpc/request-count") != 50 || value(t, exp, "grpc/error-count") != 0 {
				t.Errorf("server saw %d calls, request-count %v", srv.Calls("Unary"), value(t, exp, "grpc/request-count"))
			}
			if got := srv.LastRequest("Unary"); !strings.Contains(got, `"name":"from `+tt.name+`"`) || !strings.Contains(got, `"delayMs":"1"`) {
				t.Errorf("server received %s", got)
			}
			if srv.Metadata("x-iter8") != tt.name {
				t.Errorf("metadata %q", srv.Metadata("x-iter8"))
			}
			if p99 := value(t, exp, "grpc/latency/p99"); p99 < 1 || p99 > 1000 {
				t.Errorf("grpc/latency/p99 = %v ms (calls wait 1 ms)", p99)
			}
			if exp.Result.Insights.Load["grpc"].Codes["OK"] != 50 {
				t.Errorf("codes %v", exp.Result.Insights.Load["grpc"].Codes)
			}
		})
	}
}

// Streams run with per-message metrics matching what the server counted.
func TestGRPCStreams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method              string
		with                map[string]any
		sentPerCall, recvPC int64
	}{
		{"ServerStream", map[string]any{"data": map[string]any{"name": "s", "count": 5}}, 1, 5},
		{"ClientStream", map[string]any{"data": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}, map[string]any{"name": "c"}}, "stream-call-count": 4.0}, 4, 1},
		{"Bidi", map[string]any{"data": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}, map[string]any{"name": "c"}}, "stream-interval": "1ms"}, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			t.Parallel()
			srv := startGRPC(t, demo.GRPCConfig{})
			with := map[string]any{"host": srv.Addr(), "call": "iter8.demo.v1.Demo." + tt.method, "total": 40.0, "concurrency": 4.0}
			for k, v := range tt.with {
				with[k] = v
			}
			exp, err := runTemp(t, newGRPC, with)
			if err != nil {
				t.Fatal(err)
			}
			sent, recv := value(t, exp, "grpc/sent-messages"), value(t, exp, "grpc/received-messages")
			if int64(sent) != srv.Received(tt.method) || int64(sent) != 40*tt.sentPerCall {
				t.Errorf("sent %v messages; server received %d, want %d", sent, srv.Received(tt.method), 40*tt.sentPerCall)
			}
			if int64(recv) != srv.Sent(tt.method) || int64(recv) != 40*tt.recvPC {
				t.Errorf("received %v messages; server sent %d, want %d", recv, srv.Sent(tt.method), 40*tt.recvPC)
			}
			if _, ok := exp.Result.Insights.Value("grpc/first-response/p99", 0); !ok {
				t.Error("no time to first response")
			}
			if tt.recvPC > 1 {
				if _, ok := exp.Result.Insights.Value("grpc/inter-message/mean", 0); !ok {
					t.Error("no inter-message latency")
				}
				if r := value(t, exp, "grpc/received-message-rate"); r <= 0 {
					t.Errorf("received-message-rate %v", r)
				}
			}
			if value(t, exp, "grpc/request-count") != 40 || value(t, exp, "grpc/error-count") != 0 {
				t.Errorf("calls %v errors %v", value(t, exp, "grpc/request-count"), value(t, exp, "grpc/error-count"))
			}
		})
	}
}

// Bad input gives a clear error naming the thing that is wrong.
func TestGRPCErrors(t *testing.T) {
	t.Parallel()
	srv := startGRPC(t, demo.GRPCConfig{})
	dir := t.TempDir()
	protoFile, err := demo.WriteDemoProtos(filepath.Join(dir, "protos"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	tests := []struct {
		name string
		with map[string]any
		want []string
	}{
		{"wrong method", map[string]any{"call": "iter8.demo.v1.Demo.Unarry"}, []string{`service iter8.demo.v1.Demo has no method "Unarry"; its methods are Unary, ServerStream, ClientStream, Bidi`}},
		{"wrong service", map[string]any{"call": "iter8.demo.v1.Demos.Unary"}, []string{`does not know service "iter8.demo.v1.Demos"`}},
		{"field that does not exist", map[string]any{"data": map[string]any{"nname": "x"}}, []string{"data is not a valid iter8.demo.v1.Request message", `unknown field "nname"`}},
		{"bad import path", map[string]any{"proto": protoFile, "import-paths": []any{filepath.Join(dir, "nowhere")}}, []string{"iter8/demo/v1/types.proto", "no such file", filepath.Join(dir, "nowhere"), "an import path must be the folder"}},
		{"unreachable host", map[string]any{"host": closed, "connect-timeout": "2s"}, []string{"cannot connect to " + closed, "connection refused"}},
		{"list for unary", map[string]any{"data": []any{map[string]any{}, map[string]any{}}}, []string{"data is a list of 2 messages, but iter8.demo.v1.Demo.Unary takes one request message"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			with := map[string]any{"host": srv.Addr(), "call": "iter8.demo.v1.Demo.Unary", "total": 5.0}
			for k, v := range tt.with {
				with[k] = v
			}
			_, err := runTemp(t, newGRPC, with)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// skipFirst discards its calls' measurements, not their connections: the
// measured calls go over the connections the skipped ones opened (as ghz's
// skipFirst), so they pay no connection set-up.
func TestGRPCSkipFirstKeepsConnections(t *testing.T) {
	t.Parallel()
	conns := map[float64]int64{}
	for _, skip := range []float64{0, 5} {
		srv := startGRPC(t, demo.GRPCConfig{})
		with := map[string]any{"host": srv.Addr(), "call": "iter8.demo.v1.Demo.Unary", "total": 10.0, "connections": 1.0, "skipFirst": skip}
		if _, err := runTemp(t, newGRPC, with); err != nil {
			t.Fatalf("skipFirst %v: %v", skip, err)
		}
		conns[skip] = srv.Connections()
	}
	if conns[5] != conns[0] {
		t.Errorf("the server accepted %d connections with skipFirst 5, %d without: want as many", conns[5], conns[0])
	}
}

func TestGRPCInputErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		with map[string]any
		want string
	}{
		{map[string]any{"call": "a.B.C"}, `field "host" is missing`},
		{map[string]any{"host": "h:1"}, `field "call" is missing`},
		{map[string]any{"host": "h:1", "call": "nodots"}, `field "call": invalid value "nodots"`},
		{map[string]any{"host": "http://h:1", "call": "a.B.C"}, `field "host": invalid value "http://h:1": expected host:port without a scheme`},
		{map[string]any{"host": "h:1", "call": "a.B.C", "concurrency": 0.0}, `field "concurrency": invalid value 0`},
		{map[string]any{"host": "h:1", "call": "a.B.C", "max-recv-message-size": "lots"}, `field "max-recv-message-size": invalid value "lots": expected a size such as 4MB`},
		// ghz's concurrency schedule is an input (issue 14 item 3): line needs its step
		{map[string]any{"host": "h:1", "call": "a.B.C", "concurrency-schedule": "line"}, `field "concurrency-step" is missing`},
		{map[string]any{"host": "h:1", "call": "a.B.C", "load-schedule": "step", "load-start": 10.0, "load-step": 5.0}, `field "load-step-duration" is missing`},
		{map[string]any{"host": "h:1", "call": "a.B.C", "load-schedule": "step", "load-start": 10.0, "load-step": 5.0, "load-step-duration": "1s", "load-end": 5.0}, `field "load-end": invalid value 5`},
		{map[string]any{"host": "h:1", "call": "a.B.C", "load-schedule": "line", "load-start": 10.0, "load-step": -5.0}, `its rate falls to 0 after 15`},
		{map[string]any{"host": "h:1", "call": "a.B.C", "load-schedule": "sine"}, `field "load-schedule": invalid value "sine": expected const, step or line`},
		{map[string]any{"host": "h:1", "call": "a.B.C", "concurrency-schedule": "step", "concurrency-step": 2.0, "concurrency-step-duration": "1s"}, `field "concurrency-end" is missing`},
		{map[string]any{"host": "h:1", "call": "a.B.C", "lb-strategy": "fastest"}, `field "lb-strategy": invalid value "fastest"`},
		{map[string]any{"host": "h:1", "call": "a.B.C", "duration-stop": "later"}, `field "duration-stop": invalid value "later": expected close, wait or ignore`},
		{map[string]any{"host": "h:1", "call": "a.B.C", "insecure": true, "cacert": "ca.pem"}, `field "insecure": invalid value true`},
		{map[string]any{"host": "h:1", "call": "a.B.C", "proto": "a.proto", "protoset": "b"}, "at most one of proto (or protoURL) and protoset"},
		{map[string]any{"host": "h:1", "call": "a.B.C", "provider": "http"}, `field "provider": invalid value "http": expected a name for this task's metrics`},
		{map[string]any{"host": "h:1", "call": "a.B.C", "provider": "canary", "abort": []any{map[string]any{"metric": "grpc/error-rate", "limit": 0.1, "for": "2s"}}},
			`field "abort[0].metric": invalid value "grpc/error-rate": expected canary/error-rate, a canary latency percentile or the canary latency mean (e.g. canary/latency/p99)`},
	}
	for _, tt := range tests {
		_, err := newGRPC(tt.with)
		if err == nil || !errors.Is(err, inputs.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want ErrInvalid containing %q", tt.with, err, tt.want)
		}
	}
	tk, err := newGRPC(map[string]any{"host": "h:1", "call": "a.B.C", "max-send-message-size": "4MiB", "duration": "10s", "total": 5.0})
	if err != nil {
		t.Fatal(err)
	}
	in := tk.(*grpcTask).in
	if *in.MaxSendMessageSize != 4<<20 || in.Total != nil || *in.Concurrency != 50 || *in.Connections != 1 || in.Timeout.Seconds() != 20 {
		t.Errorf("defaults: %+v", in)
	}
}

// Error status codes are counted per code and never stop the run; data
// templates vary per call.
func TestGRPCStatusCodesAndTemplates(t *testing.T) {
	t.Parallel()
	srv := startGRPC(t, demo.GRPCConfig{ErrorRate: 0.1, ErrorCode: codes.ResourceExhausted})
	exp, err := runTemp(t, newGRPC, map[string]any{
		"total": 100.0, "concurrency": 5.0, "endpoints": map[string]any{
			"ok":       map[string]any{"host": srv.Addr(), "call": "iter8.demo.v1.Demo.Unary", "data": `{"name": "call-{{.RequestNumber}}", "sent": "{{.Timestamp}}"}`, "weight": 3.0},
			"notfound": map[string]any{"host": srv.Addr(), "call": "iter8.demo.v1.Demo.Unary", "data": map[string]any{"options": map[string]any{"code": 5}}, "weight": 1.0},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	load := exp.Result.Insights.Load
	if c := load["grpc-notfound"].Codes; c["NotFound"]+c["ResourceExhausted"] != 25 {
		t.Errorf("notfound codes %v", c)
	}
	c := load["grpc"].Codes
	if c["OK"]+c["NotFound"]+c["ResourceExhausted"] != 100 || c["ResourceExhausted"] < 1 || c["NotFound"] < 1 {
		t.Errorf("aggregate codes %v", c)
	}
	if v := value(t, exp, "grpc/error-count"); v != float64(c["NotFound"]+c["ResourceExhausted"]) {
		t.Errorf("error-count %v, codes %v", v, c)
	}
	if v := value(t, exp, "grpc-ok/request-count"); v != 75 {
		t.Errorf("grpc-ok/request-count %v", v)
	}
	if !strings.Contains(srv.LastRequest("Unary"), `"name":"call-`) && !strings.Contains(srv.LastRequest("Unary"), `"options"`) {
		t.Errorf("last request %s", srv.LastRequest("Unary"))
	}
}

func TestGRPCTLS(t *testing.T) {
	t.Parallel()
	ca := newTestCA(t)
	caFile, certFile, keyFile := ca.caFile, ca.certFile, ca.keyFile
	srv := startGRPC(t, demo.GRPCConfig{TLS: ca.server(t, "grpc.iter8.test", true)})
	exp, err := runTemp(t, newGRPC, map[string]any{
		"host": srv.Addr(), "call": "iter8.demo.v1.Demo.Unary", "total": 20.0, "concurrency": 2.0,
		"cacert": caFile, "cert": certFile, "key": keyFile, "cname": "grpc.iter8.test",
	})
	if err != nil {
		t.Fatal(err)
	}
	if value(t, exp, "grpc/request-count") != 20 || srv.Calls("Unary") != 20 {
		t.Errorf("calls %v", srv.Calls("Unary"))
	}
	_, err = runTemp(t, newGRPC, map[string]any{"host": srv.Addr(), "call": "iter8.demo.v1.Demo.Unary", "total": 5.0, "connect-timeout": "2s"})
	if err == nil {
		t.Error("plaintext to a TLS server succeeded")
	}
}

// startGRPC starts the in-process gRPC demo server.
func startGRPC(t *testing.T, cfg demo.GRPCConfig) *demo.GRPC {
	t.Helper()
	s, err := demo.StartGRPC(cfg, "")
	return started(t, s, err)
}

// A stream that its deadline ends while it waits for a message is in the
// per-message metrics at that wait, a lower bound, as a timed-out call is
// in the latency: one that got no message is in the time to first
// response, one that stalled after a message in the time between
// messages, and the received-message rate is per second of stream call.
// Before, they were left out: a tenth of the streams sending nothing read
// first-response p95 1 ms, and a stalled stream's rate came from the time
// until its last message.
func TestGRPCStreamDeadlinesInMessageMetrics(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	t.Run("no first message", func(t *testing.T) {
		t.Parallel()
		srv := startGRPC(t, demo.GRPCConfig{Latency: func(n uint64) time.Duration {
			if n%10 == 9 {
				return time.Minute
			}
			return 0
		}})
		exp, err := runTemp(t, newGRPC, map[string]any{"host": srv.Addr(), "call": "iter8.demo.v1.Demo.ServerStream", "total": 40.0, "concurrency": 4.0,
			"timeout": timeout.String(), "data": map[string]any{"name": "s", "count": 3}})
		if err != nil {
			t.Fatal(err)
		}
		if n := exp.Result.Insights.Load["grpc"].Codes["DeadlineExceeded"]; n != 4 {
			t.Fatalf("%d calls timed out, want 4; codes %v", n, exp.Result.Insights.Load["grpc"].Codes)
		}
		if p95 := value(t, exp, "grpc/first-response/p95"); p95 < float64(timeout.Milliseconds()) {
			t.Errorf("first-response p95 %.1f ms with a tenth of the streams sending nothing within %v: want them in it at their deadline", p95, timeout)
		}
	})
	t.Run("a stall after a message", func(t *testing.T) {
		t.Parallel()
		srv := startGRPC(t, demo.GRPCConfig{StreamInterval: time.Second})
		exp, err := runTemp(t, newGRPC, map[string]any{"host": srv.Addr(), "call": "iter8.demo.v1.Demo.ServerStream", "total": 8.0, "concurrency": 4.0,
			"timeout": timeout.String(), "data": map[string]any{"name": "s", "count": 3}})
		if err != nil {
			t.Fatal(err)
		}
		if max, ok := exp.Result.Insights.Value("grpc/inter-message/max", 0); !ok || max < 0.8*float64(timeout.Milliseconds()) {
			t.Errorf("inter-message max %.1f ms (recorded %v) for streams that stalled after their first message until their %v deadline", max, ok, timeout)
		}
		// one message in each stream of about 300 ms
		if rate := value(t, exp, "grpc/received-message-rate"); rate > 10 {
			t.Errorf("received-message rate %.1f/s: want it per second of stream call (about 3.3)", rate)
		}
	})
}
