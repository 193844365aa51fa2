package task

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/provider/providertest"
	"iter8.tools/iter8/internal/report"
	"iter8.tools/iter8/internal/slo"
	"iter8.tools/iter8/internal/store"
)

const ordersTemplate = `# SQL metrics of one version; values reach the queries only as bound parameters.
driver: postgres
dsn: {{ .dsn | quote }}
metrics:
- name: request-count
  type: counter
  description: requests served by {{ .version }} since the experiment started
  query: SELECT count(*) FROM requests WHERE version = $1 AND at >= $2
  args: [{{ .version | quote }}, {{ .startingTime | quote }}]
- name: error-rate
  type: gauge
  description: fraction of failed requests
  query: SELECT avg(CASE WHEN ok THEN 0 ELSE 1 END) FROM requests WHERE version = $1 AND at >= $2
  args: [{{ .version | quote }}, {{ .startingTime | quote }}]
- name: latency-p95
  type: gauge
  units: msec
  description: 95th percentile latency
  query: |
    SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)
    FROM requests WHERE version = $1 AND at >= $2
  args: [{{ .version | quote }}, {{ .startingTime | quote }}]
- name: refunds
  type: counter
  description: refunded amount
  query: SELECT sum(amount) FROM refunds WHERE version = $1
  args: [{{ .version | quote }}]
`

func runExperiment(t *testing.T, dir string, spec string) (*experiment.Experiment, string, error) {
	t.Helper()
	exp, err := experiment.Decode([]byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.NewMemory(exp)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	r := &experiment.Runner{Store: st, Registry: Registry(Deps{}), Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Dir: dir, Version: "v0.14"}
	out, err := r.Run(context.Background())
	return out, logs.String(), err
}

// SQL metrics against a real PostgreSQL, two versions: values, verdicts
// (including a no-data SLO that is ignored), and a DSN whose password stays
// in its file.
func TestCustomMetricsPostgres(t *testing.T) {
	t.Parallel()
	pg := providertest.StartPostgres(t)
	pg.Exec(t,
		`CREATE TABLE requests (version text, latency_ms double precision, ok boolean, at timestamptz DEFAULT now())`,
		// v1: 10..100 ms, no failures; v2: 100..1000 ms, 3 failures.
		`INSERT INTO requests (version, latency_ms, ok) SELECT 'v1', 10 * i, true FROM generate_series(1, 10) i`,
		`INSERT INTO requests (version, latency_ms, ok) SELECT 'v2', 100 * i, i > 3 FROM generate_series(1, 10) i`,
		// rows from before the experiment do not count
		`INSERT INTO requests (version, latency_ms, ok, at) VALUES ('v1', 1, true, '2000-01-01')`,
		`CREATE TABLE refunds (version text, amount numeric)`,
		`INSERT INTO refunds VALUES ('v2', 20.5), ('v2', 29.5)`,
	)
	dir := t.TempDir()
	dsnFile := filepath.Join(dir, "dsn")
	if err := os.WriteFile(dsnFile, []byte(pg.DSN()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "orders.tpl"), []byte(ordersTemplate), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := `spec:
- task: custommetrics
  with:
    templates: {shop: orders.tpl}
    values: {dsn: "${file:` + dsnFile + `}", startingTime: "2020-01-01T00:00:00Z"}
    versionValues: [{version: v1}, {version: v2}]
    versionNames: [baseline, candidate]
- task: assess
  with:
    SLOs:
      upper:
      - {metric: shop/error-rate, limit: 0.1}
      - {metric: shop/latency-p95, limit: 500}
      - {metric: shop/refunds, limit: 100, onNoData: ignore}
      lower:
      - {metric: shop/request-count, limit: 10}
`
	exp, logs, err := runExperiment(t, dir, spec)
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	in := exp.Result.Insights
	want := map[string][2]float64{
		"shop/request-count": {10, 10},
		"shop/error-rate":    {0, 0.3},
		"shop/latency-p95":   {95.5, 955},
	}
	for m, w := range want {
		for v := range 2 {
			if got, ok := in.Value(m, v); !ok || !within(got, w[v], 1e-12) {
				t.Errorf("%s version %d = %v %v, want %v", m, v, got, ok, w[v])
			}
		}
	}
	if _, ok := in.Value("shop/refunds", 0); ok {
		t.Error("baseline has no refunds: want no data")
	}
	if got, _ := in.Value("shop/refunds", 1); got != 50 {
		t.Errorf("candidate refunds %v, want 50", got)
	}
	if m := in.MissingValues[0]["shop/refunds"]; m.Outcome != slo.NoData || m.Reason != "the SQL query returned NULL" {
		t.Errorf("missing value %+v", m)
	}
	type row struct{ v0, v1 slo.Outcome }
	var got []row
	for _, v := range in.SLOVerdicts {
		got = append(got, row{v.Versions[0].Outcome, v.Versions[1].Outcome})
	}
	wantRows := []row{{slo.Passed, slo.Failed}, {slo.Passed, slo.Failed}, {slo.NoData, slo.Passed}, {slo.Passed, slo.Passed}}
	if len(got) != len(wantRows) {
		t.Fatalf("verdicts %v", got)
	}
	for i := range wantRows {
		if got[i] != wantRows[i] {
			t.Errorf("SLO %s: %v, want %v", in.SLOVerdicts[i].String(), got[i], wantRows[i])
		}
	}
	if !in.SLOVerdicts[2].Versions[0].Ignored {
		t.Error("the refunds SLO has onNoData: ignore")
	}
	// The candidate fails the experiment's SLOs; the ignored no data does not.
	msgs := exp.Check([]experiment.Assertion{experiment.AssertSLOs})
	wantMsgs := []string{
		"slos: SLO shop/error-rate <= 0.1 is not satisfied by candidate: value 0.3 is above the limit 0.1",
		"slos: SLO shop/latency-p95 <= 500 is not satisfied by candidate: value 955 is above the limit 500",
	}
	if strings.Join(msgs, "\n") != strings.Join(wantMsgs, "\n") {
		t.Errorf("assert messages:\n%s\nwant\n%s", strings.Join(msgs, "\n"), strings.Join(wantMsgs, "\n"))
	}
	if notes := exp.Notes(); len(notes) != 1 || notes[0] != "slos: SLO shop/refunds <= 100 has no data for baseline (the SQL query returned NULL); ignored because its onNoData is ignore" {
		t.Errorf("notes %q", notes)
	}
	var txt bytes.Buffer
	if err := report.Text(&txt, exp, report.Options{}); err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(txt.String()), " ")
	flat = regexp.MustCompile(`(true|false) \([0-9.]+\)`).ReplaceAllString(flat, "$1") // the SLO cells' values
	for _, s := range []string{
		"SLO Conditions | baseline | candidate",
		"shop/latency-p95 (msec) <= 500 | true | false",
		"shop/refunds <= 100 | ignored (no data) | true",
		"shop/refunds | unavailable (no data) | 50.00",
	} {
		if !strings.Contains(flat, s) {
			t.Errorf("report lacks %q:\n%s", s, txt.String())
		}
	}
	// The stored experiment keeps the reference, not the DSN.
	b, err := yaml.Marshal(exp)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), pg.Password) || strings.Contains(logs, pg.Password) {
		t.Error("the database password leaked into the experiment or the logs")
	}
	if !strings.Contains(string(b), "${file:"+dsnFile+"}") {
		t.Error("the experiment lost the DSN reference")
	}
	t.Logf("report:\n%s", txt.String())
}
