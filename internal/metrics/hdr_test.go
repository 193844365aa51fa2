package metrics

import (
	"math"
	"sort"
	"testing"
	"time"
)

func TestHDRAccuracy(t *testing.T) {
	t.Parallel()
	h := NewHDR()
	var vals []float64
	// 100,000 values spread from 50 µs to 5 s, log-uniformly.
	for i := range 100000 {
		us := 50 * math.Pow(1e5, float64(i)/100000)
		h.Record(time.Duration(us * float64(time.Microsecond)))
		vals = append(vals, math.Floor(us)/1000)
	}
	sort.Float64s(vals)
	for _, p := range []float64{50, 90, 99, 99.9} {
		want := vals[int(math.Ceil(p/100*float64(len(vals))))-1]
		got := h.PercentileMs(p)
		if rel := math.Abs(got-want) / want; rel > 0.001 {
			t.Errorf("p%v = %v ms, want %v ms (relative error %.5f > 0.1%%)", p, got, want, rel)
		}
	}
	if h.Count() != 100000 {
		t.Errorf("Count() = %d", h.Count())
	}
}

func TestHDREncodeRoundTrip(t *testing.T) {
	t.Parallel()
	h := NewHDR()
	for i := range 1000 {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	h.Record(2 * time.Hour) // clamps to one hour
	s, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	d, err := DecodeHDR(s)
	if err != nil {
		t.Fatal(err)
	}
	if d.Count() != h.Count() || d.PercentileMs(99) != h.PercentileMs(99) || d.MaxMs() != h.MaxMs() {
		t.Errorf("decoded histogram differs: count %d/%d p99 %v/%v max %v/%v", d.Count(), h.Count(), d.PercentileMs(99), h.PercentileMs(99), d.MaxMs(), h.MaxMs())
	}
	if got := d.MaxMs(); got < 3599000 || got > 3601000 {
		t.Errorf("max = %v ms, want one hour", got)
	}
	if _, err := DecodeHDR("not a histogram"); err == nil {
		t.Error("DecodeHDR accepted garbage")
	}
}

func TestHDRBuckets(t *testing.T) {
	t.Parallel()
	h := NewHDR()
	for _, ms := range []float64{1.21, 1.24, 1.31, 15.2, 15.7, 150} {
		h.Record(time.Duration(ms * float64(time.Millisecond)))
	}
	got := h.Buckets()
	want := []Bucket{{1.2, 1.3, 2}, {1.3, 1.4, 1}, {15, 16, 2}, {150, 160, 1}}
	if len(got) != len(want) {
		t.Fatalf("Buckets() = %v, want %v", got, want)
	}
	var total int64
	for i := range got {
		total += got[i].Count
		if math.Abs(got[i].Lower-want[i].Lower) > 1e-9 || math.Abs(got[i].Upper-want[i].Upper) > 1e-9 || got[i].Count != want[i].Count {
			t.Errorf("bucket %d = %v, want %v", i, got[i], want[i])
		}
	}
	if total != h.Count() {
		t.Errorf("buckets hold %d values, histogram %d", total, h.Count())
	}
}

func TestHDRMerge(t *testing.T) {
	t.Parallel()
	a, b := NewHDR(), NewHDR()
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	a.Merge(b)
	a.Merge(nil)
	if a.Count() != 2 || math.Abs(a.MeanMs()-2) > 0.01 {
		t.Errorf("merged count %d mean %v", a.Count(), a.MeanMs())
	}
}
