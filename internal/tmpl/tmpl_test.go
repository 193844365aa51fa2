package tmpl

import (
	"errors"
	"strings"
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

// A rendering that outlasts its budget is stopped with an error, and told
// to stop: its next function call fails.
func TestTimeBudget(t *testing.T) {
	t.Parallel()
	l := Limits{Output: 1 << 20, Items: 100_000, Time: 20 * time.Millisecond}
	p, err := Parse("slow", `{{ range until 100000 }}{{ range until 100000 }}{{ add 1 1 }}{{ end }}{{ end }}`, l, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Execute(nil)
	if !errors.Is(err, ErrCost) || !strings.Contains(err.Error(), "longer than its time budget of 20ms") {
		t.Errorf("error %v", err)
	}
	if !p.stopped() {
		t.Error("the rendering was not told to stop")
	}
}
