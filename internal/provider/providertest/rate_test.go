package providertest

import (
	"math"
	"testing"
	"time"
)

func TestIncrease(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	at := func(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }
	linear := func(secs ...float64) []Point { // a counter rising 10 a second from t0
		var ps []Point
		for _, s := range secs {
			ps = append(ps, Point{at(s), 10 * s})
		}
		return ps
	}
	for _, c := range []struct {
		name   string
		points []Point
		at     float64
		window time.Duration
		want   float64
		ok     bool
	}{
		{"full window: extrapolated to both ends", linear(1, 2, 3, 4, 5), 5, 5 * time.Second, 50, true},
		{"newest sample 2s old: half an interval at the end", linear(1, 2, 3), 5, 5 * time.Second, 35, true},
		{"samples outside the window ignored, bounds included", linear(0, 1, 2, 3, 4, 5, 6), 5, 3 * time.Second, 30, true},
		{"start not extrapolated below zero", []Point{{at(1), 1}, {at(2), 11}}, 2, 2 * time.Second, 11, true},
		{"a reset adds back the value before it", []Point{{at(1), 10}, {at(2), 20}, {at(3), 5}}, 3, 2 * time.Second, 15, true},
		{"one sample: no value", linear(4), 5, 5 * time.Second, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Increase(c.points, at(c.at), c.window)
			if ok != c.ok || math.Abs(got-c.want) > 1e-9 {
				t.Errorf("Increase = %v, %v; want %v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestIncreaseBounds(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	s := []Point{{t0.Add(time.Second), 10}, {t0.Add(2 * time.Second), 20}, {t0.Add(3 * time.Second), 30}}
	// At t0+5s: all three samples give 35; without the newest (not yet
	// ingested), 25. Two identical series sum.
	lo, hi, ok := IncreaseBounds([][]Point{s, s}, t0.Add(5*time.Second), t0.Add(5*time.Second), 5*time.Second)
	if !ok || math.Abs(lo-50) > 1e-9 || math.Abs(hi-70) > 1e-9 {
		t.Errorf("IncreaseBounds = [%v, %v] %v, want [50, 70] true", lo, hi, ok)
	}
	// From t0+3s to t0+5s the end gap grows from 0 to 2s: extrapolated all
	// the way up to t0+4.099s (40.99), then half an interval (35); without
	// the newest sample, the gap is at least 1.1s from t0+3.1s on (25).
	lo, hi, ok = IncreaseBounds([][]Point{s}, t0.Add(3*time.Second), t0.Add(5*time.Second), 5*time.Second)
	if !ok || math.Abs(lo-25) > 1e-9 || math.Abs(hi-40.99) > 1e-9 {
		t.Errorf("IncreaseBounds = [%v, %v] %v, want [25, 40.99] true", lo, hi, ok)
	}
	if _, _, ok := IncreaseBounds([][]Point{s[:1]}, t0, t0.Add(time.Second), time.Second); ok {
		t.Error("IncreaseBounds with one sample: ok, want no value")
	}
}
