package chart

import (
	"context"
	"errors"
	"testing"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/source"
)

// FuzzSetValues: any --set value renders an experiment or fails with a
// clear invalid-input error, never panics, and what renders decodes.
func FuzzSetValues(f *testing.F) {
	for _, s := range []string{"http.qps=2.5", "http.percentiles={97.5,99}", `assess.SLOs.upper.http/latency-p97\.5=100`,
		"assess.SLOs.upper.http/latency-p97.5=100", "tasks={http,assess,run}", "run=echo hi", "http.headers.X=1",
		"http.endpoints.a.url=http://127.0.0.1/a", "http.qps=-1", "tasks[0]=grpc", "a=b,c=d", "{}", "http=null", "x.y.z[2]=3"} {
		f.Add(s)
	}
	c, err := Embedded()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, set string) {
		vals, err := Values{Set: []string{"tasks={http,assess}", "http.url=http://127.0.0.1:8080/", set}}.Merge(context.Background(), source.Reader{}, nil)
		if err != nil {
			if !errors.Is(err, inputs.ErrInvalid) {
				t.Fatalf("values error %v is not ErrInvalid", err)
			}
			return
		}
		doc, err := c.Experiment(vals)
		if err != nil {
			if !errors.Is(err, inputs.ErrInvalid) {
				t.Fatalf("render error %v is not ErrInvalid", err)
			}
			return
		}
		if _, err := experiment.Decode(doc); err != nil {
			t.Fatalf("the chart rendered an experiment that does not decode: %v\n%s", err, doc)
		}
	})
}
