package metrics

import (
	"errors"
	"testing"
	"time"
)

// FuzzParseName: parsing never panics, and normalisation is stable.
func FuzzParseName(f *testing.F) {
	for _, s := range []string{"http/latency-p99", "http/latency-p50.0", "grpc/latency/p97.50", "http-get/latency-p99.90",
		"istio-prom/error-rate", "a/b/c/d", "http//x", "grpc/latency/median", "x/y/p0", "x/y/p1e2", "http/latency-p-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseName(s)
		if err != nil {
			if !errors.Is(err, ErrName) {
				t.Fatalf("error %v is not ErrName", err)
			}
			return
		}
		again, err := ParseName(n.String())
		if err != nil || again != n {
			t.Fatalf("%q normalises to %q, which parses to %q (%v)", s, n, again, err)
		}
		_, _, _ = n.Percentile()
	})
}

// FuzzDecodeHDR: decoding arbitrary text never panics; what decodes
// re-encodes to a histogram with the same count and percentiles.
func FuzzDecodeHDR(f *testing.F) {
	h := NewHDR()
	for i := range 100 {
		h.Record(time.Duration(i*i) * time.Microsecond)
	}
	enc, _ := h.Encode()
	f.Add(enc)
	f.Add("HISTFAAAACB42pNpmSzMwMDAwQABTBDKT4GBgRWiIMDAgAMAEwYBAQ==")
	f.Add("")
	f.Add("not base64!")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := DecodeHDR(s)
		if err != nil {
			return
		}
		_ = d.PercentileMs(99)
		_ = d.Buckets()
		enc, err := d.Encode()
		if err != nil {
			return // a decoded geometry that cannot be re-encoded is reported, not a crash
		}
		again, err := DecodeHDR(enc)
		if err != nil {
			t.Fatalf("re-encoded histogram does not decode: %v", err)
		}
		if again.Count() != d.Count() || again.PercentileMs(99) != d.PercentileMs(99) {
			t.Fatalf("round trip changed the histogram: count %d/%d", again.Count(), d.Count())
		}
	})
}
