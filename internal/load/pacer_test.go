package load

import (
	"testing"
	"time"
)

func TestConstantPacer(t *testing.T) {
	t.Parallel()
	p := Constant{PerSecond: 2000}
	tests := []struct {
		n    uint64
		want time.Duration
	}{
		{0, 0},
		{1, 500 * time.Microsecond},
		{2000, time.Second},
		{3, 1500 * time.Microsecond},
	}
	for _, tt := range tests {
		if got := p.At(tt.n); got != tt.want {
			t.Errorf("At(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
	counts := []struct {
		p    Pacer
		d    time.Duration
		want uint64
	}{
		{Constant{PerSecond: 2000}, 10 * time.Second, 20000},
		{Constant{PerSecond: 8}, 5 * time.Second, 40},
		{Constant{PerSecond: 3}, time.Second, 3},
		{Constant{PerSecond: 0.5}, 3 * time.Second, 2},
	}
	for _, c := range counts {
		if got := Count(c.p, c.d); got != c.want {
			t.Errorf("Count(%v, %v) = %d, want %d", c.p, c.d, got, c.want)
		}
	}
}

func TestSchedule(t *testing.T) {
	t.Parallel()
	tests := [][]float64{
		nil,
		{1},
		{1, 1},
		{3, 1},
		{70, 20, 10},
		{0.5, 0.25, 0.25},
	}
	for _, w := range tests {
		s := NewSchedule(w)
		counts := make([]int, max(len(w), 1))
		const n = 10000
		for i := range uint64(n) {
			counts[s.Pick(i)]++
		}
		var total float64
		for _, x := range w {
			total += x
		}
		for i := range counts {
			want := float64(n)
			if len(w) > 1 {
				want = float64(n) * w[i] / total
			}
			if d := float64(counts[i]) - want; d > 10 || d < -10 {
				t.Errorf("weights %v: endpoint %d got %d of %d, want %.0f", w, i, counts[i], n, want)
			}
		}
	}
}

func TestBatchedPacer(t *testing.T) {
	t.Parallel()
	tick := BatchTick(2000, 16)
	if tick != 8*time.Millisecond {
		t.Fatalf("BatchTick(2000, 16) = %v", tick)
	}
	p := Constant{PerSecond: 2000, Tick: tick}
	// 16 requests start together every 8 ms
	for n := uint64(0); n < 64; n++ {
		if want := time.Duration(n/16) * tick; p.At(n) != want {
			t.Fatalf("At(%d) = %v, want %v", n, p.At(n), want)
		}
	}
	if Count(p, time.Second) != 2000 {
		t.Errorf("Count over 1s = %d", Count(p, time.Second))
	}
	for _, c := range []struct {
		rate  float64
		conns int
		want  time.Duration
	}{{20000, 16, 800 * time.Microsecond}, {100, 4, 0}, {8, 4, 0}, {400, 64, MaxTick}, {1000, 4, 4 * time.Millisecond}, {0, 4, 0}} {
		if got := BatchTick(c.rate, c.conns); got != c.want {
			t.Errorf("BatchTick(%v, %d) = %v, want %v", c.rate, c.conns, got, c.want)
		}
	}
}
