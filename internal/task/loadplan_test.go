package task

import (
	"errors"
	"testing"
	"time"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/load"
)

// Open-loop arrivals are evenly spaced by default (no batches), with a
// connection cap that lets a slow target's load grow to rate × (timeout +
// load.HangGrow).
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
	if o := (loadPlan{rate: 8, connections: 4, timeout: 10 * time.Second}).options(&experiment.Env{}); o.MaxConnections != 88 {
		t.Errorf("8 req/s, 10 s timeout: cap %d, want 88", o.MaxConnections)
	}
}

// arrivals: poisson gives a seeded Poisson pacer at the rate; closed loop
// has no arrivals to shape.
func TestLoadPlanArrivals(t *testing.T) {
	t.Parallel()
	o := loadPlan{rate: 2000, connections: 16, arrivals: arrivalsPoisson, timeout: time.Second}.options(&experiment.Env{})
	p, ok := o.Pacer.(*load.Poisson)
	if !ok || p.Rate() != 2000 {
		t.Fatalf("pacer %T %+v, want a Poisson pacer at 2000 req/s", o.Pacer, o.Pacer)
	}
	if want := load.NewPoisson(2000, poissonSeed); p.At(1000) != want.At(1000) {
		t.Errorf("At(1000) = %v, want the fixed seed's %v", p.At(1000), want.At(1000))
	}
	for _, with := range []map[string]any{
		{"url": "http://127.0.0.1:1/", "arrivals": "bursts"},
		{"url": "http://127.0.0.1:1/", "arrivals": "poisson", "qps": 0.0},
	} {
		_, err := newHTTP(with)
		var fe *inputs.FieldError
		if !errors.As(err, &fe) || fe.Field != "arrivals" {
			t.Errorf("%v: error %v, want one naming arrivals", with, err)
		}
	}
	if _, err := newHTTP(map[string]any{"url": "http://127.0.0.1:1/", "arrivals": "uniform"}); err != nil {
		t.Errorf("arrivals uniform: %v", err)
	}
	// grpc shares the input: rps 0 (its default) is closed loop
	grpc := map[string]any{"host": "h:1", "call": "a.B.C", "arrivals": "poisson"}
	_, err := newGRPC(grpc)
	var fe *inputs.FieldError
	if !errors.As(err, &fe) || fe.Field != "arrivals" {
		t.Errorf("grpc %v: error %v, want one naming arrivals", grpc, err)
	}
	grpc["rps"] = 100.0
	if _, err := newGRPC(grpc); err != nil {
		t.Errorf("grpc %v: %v", grpc, err)
	}
}
