package report_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/report"
)

// A distributed run's pods, each with its share and health, are in the text
// and HTML reports (a saturated pod flagged with its reason) and in the
// JSON report, which matches the schema.
func TestPerPodLoad(t *testing.T) {
	t.Parallel()
	exp := load(t, "one-version")
	exp.Result.Insights.Load["http"].Pods = []experiment.PodLoad{
		{Pod: 0, Host: "default-1-job-0-abcde", Requests: 25, Errors: 0, IntendedRate: 12.5, AchievedRate: 12.5, StartLagMs: 0, LatenessMs: 0.2, LatencyP99Ms: 3.1, CPUUtilization: 0.02},
		{Pod: 1, Host: "default-1-job-1-fghij", Requests: 25, Errors: 1, IntendedRate: 12.5, AchievedRate: 11.2, StartLagMs: 130, LatenessMs: 480, LatencyP99Ms: 9.7, CPUUtilization: 0.97,
			Saturated: true, SaturationReason: "the load generator fell behind its schedule"},
	}
	text := string(render(t, "text", exp, report.Options{}))
	for _, want := range []string{"Load generator pods:", "default-1-job-0-abcde", "default-1-job-1-fghij", "12.50 / 11.20 req/s", "130.00 ms", "saturated",
		"SATURATED POD: http: pod 1 (default-1-job-1-fghij): the load generator fell behind its schedule"} {
		if !strings.Contains(text, want) {
			t.Errorf("the text report lacks %q:\n%s", want, text)
		}
	}
	html := string(render(t, "html", exp, report.Options{}))
	for _, want := range []string{`Load generator pods of <code>http</code>`, "<code>default-1-job-1-fghij</code>", `<span class="badge invalid">saturated</span>`, "n mod 2 is its index"} {
		if !strings.Contains(html, want) {
			t.Errorf("the HTML report lacks %q", want)
		}
	}
	c := jsonschema.NewCompiler()
	schema, err := c.Compile(filepath.Join("..", "..", "docs", "report-schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	js := render(t, "json", exp, report.Options{})
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(doc); err != nil {
		t.Error(err)
	}
	if !bytes.Contains(js, []byte(`"host": "default-1-job-1-fghij"`)) && !bytes.Contains(js, []byte(`"host":"default-1-job-1-fghij"`)) {
		t.Errorf("the JSON report lacks the pods")
	}
	// without pods, nothing of the kind
	if plain := string(render(t, "text", load(t, "one-version"), report.Options{})); strings.Contains(plain, "Load generator pods") {
		t.Error("a run on one generator shows a pods section")
	}
}
