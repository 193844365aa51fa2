package task

import (
	"testing"
	"time"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/load"
)

// Open-loop arrivals are evenly spaced by default (no batches), with a
// connection cap that lets a slow target's load grow to rate × timeout.
func TestLoadPlanOptions(t *testing.T) {
	t.Parallel()
	for _, uniform := range []bool{false, true} {
		o := loadPlan{rate: 2000, connections: 16, uniform: uniform, timeout: 10 * time.Second}.options(&experiment.Env{})
		if o.Pacer != (load.Constant{PerSecond: 2000}) {
			t.Errorf("uniform %v: pacer %+v, want evenly spaced arrivals", uniform, o.Pacer)
		}
		if o.MaxConnections != 1000 || o.Timeout != 10*time.Second {
			t.Errorf("uniform %v: cap %d timeout %v, want 1000 and 10s", uniform, o.MaxConnections, o.Timeout)
		}
	}
	if o := (loadPlan{rate: 8, connections: 4, timeout: 10 * time.Second}).options(&experiment.Env{}); o.MaxConnections != 80 {
		t.Errorf("8 req/s, 10 s timeout: cap %d, want 80", o.MaxConnections)
	}
}
