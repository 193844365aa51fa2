package metrics

import (
	"fmt"
	"math"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// HDR geometry shared by every latency histogram: values in microseconds from
// 1 µs to 1 h with 3 significant digits, so any recorded value is known to
// within 0.1% and memory is constant whatever the number of samples.
const (
	hdrLowest  = 1
	hdrHighest = int64(time.Hour / time.Microsecond)
	hdrDigits  = 3
)

// HDR is a latency histogram. The zero value is not usable; call NewHDR.
type HDR struct {
	h *hdrhistogram.Histogram
}

// NewHDR returns an empty latency histogram.
func NewHDR() *HDR {
	return &HDR{h: hdrhistogram.New(hdrLowest, hdrHighest, hdrDigits)}
}

// Record adds one latency. Values beyond one hour are recorded as one hour.
func (h *HDR) Record(d time.Duration) {
	us := int64(d / time.Microsecond)
	if us < 0 {
		us = 0
	} else if us > hdrHighest {
		us = hdrHighest
	}
	_ = h.h.RecordValue(us) // cannot fail: the value is within range
}

// Merge adds every value recorded in o to h.
func (h *HDR) Merge(o *HDR) {
	if o != nil {
		h.h.Merge(o.h)
	}
}

// Reset empties the histogram.
func (h *HDR) Reset() { h.h.Reset() }

// Count is the number of recorded values.
func (h *HDR) Count() int64 { return h.h.TotalCount() }

// MeanMs is the mean latency in milliseconds.
func (h *HDR) MeanMs() float64 { return h.h.Mean() / 1000 }

// StdDevMs is the (population) standard deviation in milliseconds.
func (h *HDR) StdDevMs() float64 { return h.h.StdDev() / 1000 }

// MinMs is the smallest recorded latency in milliseconds.
func (h *HDR) MinMs() float64 { return float64(h.h.Min()) / 1000 }

// MaxMs is the largest recorded latency in milliseconds.
func (h *HDR) MaxMs() float64 { return float64(h.h.Max()) / 1000 }

// PercentileMs is the latency at percentile p (0 < p <= 100) in milliseconds.
func (h *HDR) PercentileMs(p float64) float64 {
	return float64(h.h.ValueAtPercentile(p)) / 1000
}

// Encode returns the histogram in the standard HdrHistogram V2 compressed
// encoding, base64: the compact form stored in experiment results.
func (h *HDR) Encode() (string, error) {
	b, err := h.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("encoding histogram: %w", err)
	}
	return string(b), nil
}

// DecodeHDR parses a histogram written by Encode.
func DecodeHDR(s string) (*HDR, error) {
	h, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("decoding histogram: %w", err)
	}
	return &HDR{h: h}, nil
}

// Bucket is one bar of a histogram in milliseconds, the shape the original
// Iter8 stored under histMetricValues.
type Bucket struct {
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
	Count int64   `json:"count"`
}

// Buckets returns the histogram as bars at two significant digits, which keeps
// the list short (at most 90 bars per decade) for reports and old readers.
func (h *HDR) Buckets() []Bucket {
	var out []Bucket
	for _, bar := range h.h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		lo, hi := coarse(bar.To) // HDR reports values at their highest equivalent
		if n := len(out); n > 0 && out[n-1].Lower == lo {
			out[n-1].Count += bar.Count
			continue
		}
		out = append(out, Bucket{Lower: lo, Upper: hi, Count: bar.Count})
	}
	return out
}

// coarse returns the two-significant-digit bucket, in milliseconds, holding a
// value given in microseconds.
func coarse(us int64) (lo, hi float64) {
	if us < 10 {
		return float64(us) / 1000, float64(us+1) / 1000
	}
	width := math.Pow(10, math.Floor(math.Log10(float64(us)))-1)
	l := math.Floor(float64(us)/width) * width
	return roundMs(l), roundMs(l + width)
}

// roundMs converts microseconds to milliseconds without float noise.
func roundMs(us float64) float64 { return math.Round(us) / 1000 }
