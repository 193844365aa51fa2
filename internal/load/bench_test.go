package load

import (
	"context"
	"testing"
)

type nopConn struct{}

func (nopConn) Do(context.Context, int) Outcome { return Outcome{Code: 200} }
func (nopConn) Close() error                    { return nil }

type nopTarget struct{}

func (nopTarget) NewConn() Conn { return nopConn{} }

// BenchmarkEngineClosedLoop measures the engine's own cost per request
// (scheduling, timing, recording) with a target that answers at once.
func BenchmarkEngineClosedLoop(b *testing.B) {
	b.ReportAllocs()
	rep, err := Run(context.Background(), nopTarget{}, Options{Connections: 16, Requests: uint64(b.N)})
	if err != nil {
		b.Fatal(err)
	}
	if rep.Total.Requests != int64(b.N) {
		b.Fatalf("requests %d", rep.Total.Requests)
	}
}

// BenchmarkEngineEndpoints adds the weighted endpoint schedule and error check.
func BenchmarkEngineEndpoints(b *testing.B) {
	b.ReportAllocs()
	_, err := Run(context.Background(), nopTarget{}, Options{
		Connections: 16, Requests: uint64(b.N), Weights: []float64{3, 1, 1},
		IsError: func(_ int, o Outcome) bool { return o.Err != "" || o.Code >= 400 },
	})
	if err != nil {
		b.Fatal(err)
	}
}
