package providertest

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"
)

func TestServers(t *testing.T) {
	t.Parallel()
	t.Run("prometheus", func(t *testing.T) {
		t.Parallel()
		exp := NewExporter(t, func(elapsed time.Duration) string {
			return fmt.Sprintf("# TYPE things_total counter\nthings_total %g\n", 10*elapsed.Seconds())
		})
		prom := StartPrometheus(t, time.Second, exp.Target())
		exp.WaitScrapes(t, 3, 30*time.Second)
		prom.WaitFor(t, "count_over_time(things_total[1m])", 3, 30*time.Second)
		s, err := prom.Query(context.Background(), "irate(things_total[1m])")
		if err != nil || len(s) != 1 || s[0].Value < 9.9 || s[0].Value > 10.1 {
			t.Errorf("irate: %v %v", s, err)
		}
		// Increase models Prometheus's increase() from the stored samples:
		// evaluated at fixed past times, from a full window to one whose
		// newest sample is older than 1.1 scrape intervals, or with too few
		// samples for a value.
		series, err := prom.Points(context.Background(), "things_total", time.Minute)
		if err != nil || len(series) != 1 || len(series[0]) < 3 {
			t.Fatalf("points: %v %v", series, err)
		}
		pts := series[0]
		last := pts[len(pts)-1].T
		for _, after := range []time.Duration{-300 * time.Millisecond, 0, 300 * time.Millisecond, 900 * time.Millisecond, 1200 * time.Millisecond, 2500 * time.Millisecond} {
			for _, window := range []time.Duration{2 * time.Second, 3 * time.Second, 4 * time.Second} {
				at := last.Add(after)
				want, ok := Increase(pts, at, window)
				got, err := prom.QueryAt(context.Background(), fmt.Sprintf("increase(things_total[%dms])", window.Milliseconds()), at)
				if err != nil || len(got) != map[bool]int{true: 1, false: 0}[ok] || ok && math.Abs(got[0].Value-want) > 1e-9*want {
					t.Errorf("increase(things_total[%s]) %s after the newest sample: Prometheus %v %v, Increase %v %v", window, after, got, err, want, ok)
				}
			}
		}
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		pg := StartPostgres(t)
		pg.Exec(t, "CREATE TABLE t (x int)", "INSERT INTO t VALUES (1), (2)")
	})
}

func TestMySQL(t *testing.T) {
	t.Parallel()
	m := StartMySQL(t)
	m.Exec(t, "CREATE TABLE t (x int)", "INSERT INTO t VALUES (1), (2)")
}
