package tmpl

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLimits(t *testing.T) {
	t.Parallel()
	small := Limits{Output: 1 << 10, Items: 100, Time: time.Minute}
	tests := []struct {
		name, text, want string
	}{
		{"output", `{{ range until 100 }}{{ repeat 20 "x" }}{{ end }}`, "the output is larger than the 1024 bytes allowed"},
		{"until", `{{ until 1000 }}`, "until would make 1000 items, more than the 100 allowed"},
		{"untilStep", `{{ untilStep 0 1000 2 }}`, "untilStep would make 500 items"},
		{"seq", `{{ seq 1 100000 }}`, "seq would make 100000 items"},
		{"repeat", `{{ repeat 1000 "xx" }}`, "repeat 1000 times of 2 bytes"},
		{"doubling", `{{ $s := "xxxxxxxx" }}{{ range until 20 }}{{ $s = cat $s $s }}{{ end }}`, "cat returned"},
		{"printf width", `{{ printf "%2000d" 1 }}`, "printf width 2000"},
		{"printf star", `{{ printf "%*d" 5 1 }}`, "widths from arguments"},
		{"indent", `{{ indent 2000 "x" }}`, "indent 2000"},
		{"js expansion", `{{ $s := "\\\\\\\\" }}{{ range until 10 }}{{ $s = js $s }}{{ end }}`, "js returned"},
		{"randAlpha", `{{ randAlpha 5000 }}`, "randAlpha 5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := Parse(tt.name, tt.text, small, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Execute(nil)
			if !errors.Is(err, ErrCost) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := Parse("r", `{{ range 1000 }}{{ end }}`, small, nil); !errors.Is(err, ErrCost) {
		t.Errorf("range over a literal: %v", err)
	}
	if _, err := Parse("env", `{{ env "HOME" }}`, small, nil); err == nil {
		t.Error("env is available")
	}
	p, err := Parse("ok", `{{ range until 3 }}{{ . }}{{ end }} {{ upper "a" }} {{ printf "%05d" 7 }}`, small, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := p.Execute(nil); err != nil || string(b) != "012 A 00007" {
		t.Errorf("%q %v", b, err)
	}
}

// A rendering that outlasts its time budget is stopped where it is, even in
// nested loops that call no function (the hidden steps check the clock), and
// has ended when Execute returns. The clock is fake: each reading is a
// millisecond later.
func TestTimeBudgetStopsTheRendering(t *testing.T) {
	t.Parallel()
	l := Limits{Output: 1 << 20, Items: 100_000, Time: 20 * time.Millisecond}
	p, err := Parse("slow", `{{ $l := until 1000 }}{{ range $l }}{{ range $l }}{{ range $l }}{{ end }}{{ end }}{{ end }}`, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	var clock time.Time
	p.now = func() time.Time { clock = clock.Add(time.Millisecond); return clock }
	_, err = p.Execute(nil)
	if !errors.Is(err, ErrCost) || !strings.Contains(err.Error(), "longer than its time budget of 20ms") {
		t.Errorf("error %v", err)
	}
	if n := p.steps.Load(); n > 25 {
		t.Errorf("the rendering went on for %d steps past its budget", n)
	}
}

// Loops and recursion that call no function pass the step budget; what
// functions make, kept in variables, passes the allocation budget.
func TestStepAndAllocBudgets(t *testing.T) {
	t.Parallel()
	l := Limits{Output: 1 << 20, Items: 100_000, Time: time.Hour, Steps: 10_000, Alloc: 100_000}
	tests := []struct{ name, text, want string }{
		{"nested loops", `{{ $l := until 1000 }}{{ range $l }}{{ range $l }}{{ end }}{{ end }}`, "more than the 10000 loop iterations and template calls allowed"},
		{"recursion", `{{ define "a" }}{{ template "a" . }}{{ template "a" . }}{{ end }}{{ template "a" . }}`, "more than the 10000 loop iterations"},
		{"kept in a list", `{{ $l := list }}{{ range until 1000 }}{{ $l = append $l (repeat 1000 "x") }}{{ end }}`, "made more than the 100000 bytes allowed in all"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := Parse(tt.name, tt.text, l, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Execute(nil); !errors.Is(err, ErrCost) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
			// the budgets are per rendering
			if _, err := p.Execute(nil); !errors.Is(err, ErrCost) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("second rendering: error %v", err)
			}
		})
	}
	p, err := Parse("ok", `{{ range until 5 }}{{ range until 5 }}.{{ end }}{{ end }}`, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := p.Execute(nil); err != nil || len(b) != 25 {
		t.Errorf("%q %v", b, err)
	}
}

// Renderings may run concurrently, each with its own budgets (gRPC data
// templates render once per request, from every connection).
func TestConcurrentRenderings(t *testing.T) {
	t.Parallel()
	l := Limits{Output: 1 << 10, Items: 100, Time: time.Hour, Steps: 1000}
	p, err := Parse("c", `{{ range until . }}x{{ end }}`, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := i % 50
			b, err := p.Execute(n)
			if err != nil || len(b) != n {
				errs <- fmt.Errorf("rendering %d: %q %v", n, b, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
