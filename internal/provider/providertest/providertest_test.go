package providertest

import (
	"context"
	"fmt"
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
