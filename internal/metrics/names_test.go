package metrics

import (
	"errors"
	"testing"
)

func TestParseName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		err      bool
	}{
		{in: "http/latency-mean", want: "http/latency-mean"},
		{in: "http/latency-p50.0", want: "http/latency-p50"},
		{in: "http/latency-p97.50", want: "http/latency-p97.5"},
		{in: "http-get/latency-p99.90", want: "http-get/latency-p99.9"},
		{in: "grpc/latency/p95.0", want: "grpc/latency/p95"},
		{in: "grpc/latency/mean", want: "grpc/latency/mean"},
		{in: "istio-prom/latency-p95.0", want: "istio-prom/latency-p95.0"},
		{in: "my_prom/request-count", want: "my_prom/request-count"},
		{in: "http", err: true},
		{in: "a/b/c/d", err: true},
		{in: "http//x", err: true},
		{in: "grpc/latency/median", err: true},
		{in: "grpc/latency/p101", err: true},
		{in: "http/lat ency", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			n, err := ParseName(tt.in)
			if tt.err {
				if !errors.Is(err, ErrName) {
					t.Fatalf("ParseName(%q) error = %v, want ErrName", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n.String() != tt.want {
				t.Errorf("ParseName(%q) = %q, want %q", tt.in, n, tt.want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		hist string
		p    float64
		ok   bool
	}{
		{"http/latency-p97.5", "latency", 97.5, true},
		{"http/service-time-p99", "service-time", 99, true},
		{"grpc/latency/p50", "latency", 50, true},
		{"http/latency-mean", "", 0, false},
		{"http/error-count", "", 0, false},
	}
	for _, tt := range tests {
		n, err := ParseName(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		hist, p, ok := n.Percentile()
		if hist != tt.hist || p != tt.p || ok != tt.ok {
			t.Errorf("%s.Percentile() = %q, %v, %v; want %q, %v, %v", tt.in, hist, p, ok, tt.hist, tt.p, tt.ok)
		}
	}
}
