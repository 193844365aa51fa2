package provider

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"iter8.tools/iter8/internal/golden"
	"iter8.tools/iter8/internal/inputs"
)

var (
	start = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	now   = start.Add(90*time.Second + 300*time.Millisecond)
)

// render loads a built-in or inline template and renders it for one version.
func render(t *testing.T, name, text string, vals map[string]any) (*Spec, error) {
	t.Helper()
	var tp *Template
	var err error
	if b, ok := Builtin(name); ok && text == "" {
		tp, err = Parse(name, "built-in "+name, b)
	} else {
		tp, err = Parse(name, "test", []byte(text))
	}
	if err != nil {
		return nil, err
	}
	v, err := VersionValues(vals, nil, start, now)
	if err != nil {
		return nil, err
	}
	return tp.Render(v)
}

// The built-in templates' rendered specs, reviewed as golden files: every
// query each template sends.
func TestBuiltinsRender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, builtin string
		vals          map[string]any
	}{
		{"prometheus-all", "prometheus", map[string]any{
			"prometheusURL":      "http://prom.test:9090/",
			"headers":            map[string]any{"Authorization": "Bearer ${env:PROM_TOKEN}"},
			"requests":           `http_requests_total{job="shop",version="v2"}`,
			"errors":             `http_requests_total{job="shop",version="v2",code=~"5.."}`,
			"latency":            `http_request_duration_seconds{job="shop",version="v2"}`,
			"latencyPercentiles": []any{50.0, 97.5},
			"queries":            map[string]any{"cpu": `sum(rate(process_cpu_seconds_total{job="shop"}[1m]))`},
		}},
		{"prometheus-window", "prometheus", map[string]any{
			"prometheusURL": "http://prom.test:9090", "requests": "reqs_total", "window": "5m",
		}},
		// no request counter: an empty match is 0 only when the counter
		// has the labels of its positive matchers (quoted values, even
		// with "=" or a quote inside, are not labels; != and !~ need none)
		{"prometheus-errors", "prometheus", map[string]any{
			"prometheusURL": "http://prom.test:9090", "window": "5m",
			"errors": `grpc_server_handled_total{ grpc_service = "shop.v1.Cart", grpc_code=~'Unavailable|Internal', path!="/a=b\"c=d", le!~"x=y"}`,
		}},
		// no metric name and no request counter: no fallback at all
		{"prometheus-errors-noname", "prometheus", map[string]any{
			"prometheusURL": "http://prom.test:9090", "window": "5m", "errors": `{__name__="errors_total",job="shop"}`,
		}},
		{"istio-prom", "istio-prom", map[string]any{
			"istioPromURL":       "http://prom.test:9090/api/v1/query",
			"labels":             map[string]any{"destination_app": "httpbin", "destination_version": "v2"},
			"latencyPercentiles": []any{50.0, 99.9},
		}},
		{"istio-prom-v0.11", "istio-prom", map[string]any{
			"reporter": "destination", "destinationWorkload": "httpbin-v2", "destinationWorkloadNamespace": "default",
		}},
		{"knative", "knative", map[string]any{
			"prometheusURL": "http://prom.test:9090", "namespace": "default", "service": "sklearn-iris-predictor",
			"revision": "sklearn-iris-predictor-00002",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			spec, err := render(t, tt.builtin, "", tt.vals)
			if err != nil {
				t.Fatal(err)
			}
			b, err := yaml.Marshal(spec)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", tt.name+".yaml"), b)
		})
	}
}

func TestBuiltinNames(t *testing.T) {
	t.Parallel()
	if diff := cmp.Diff([]string{"istio-prom", "knative", "prometheus"}, BuiltinNames()); diff != "" {
		t.Error(diff)
	}
}

// Each version's values are values merged with its versionValues; neither is
// changed (the original mutated values, so keys leaked between versions).
func TestVersionValues(t *testing.T) {
	t.Parallel()
	values := map[string]any{"labels": map[string]any{"app": "shop", "ns": "prod"}, "list": []any{1.0}}
	v1 := map[string]any{"labels": map[string]any{"version": "v1"}}
	v2 := map[string]any{"labels": map[string]any{"version": "v2", "ns": "canary"}, "extra": true}
	got1, err := VersionValues(values, v1, start, now)
	if err != nil {
		t.Fatal(err)
	}
	got2, err := VersionValues(values, v2, start, now)
	if err != nil {
		t.Fatal(err)
	}
	got1["list"].([]any)[0] = 99.0
	want1 := map[string]any{"labels": map[string]any{"app": "shop", "ns": "prod", "version": "v1"}, "list": []any{99.0},
		"startingTime": "2026-01-02T15:04:05Z", "elapsedTimeSeconds": int64(91)}
	want2 := map[string]any{"labels": map[string]any{"app": "shop", "ns": "canary", "version": "v2"}, "list": []any{1.0}, "extra": true,
		"startingTime": "2026-01-02T15:04:05Z", "elapsedTimeSeconds": int64(91)}
	if diff := cmp.Diff(want1, got1); diff != "" {
		t.Errorf("version 1 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want2, got2); diff != "" {
		t.Errorf("version 2 (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]any{"labels": map[string]any{"app": "shop", "ns": "prod"}, "list": []any{1.0}}, values); diff != "" {
		t.Errorf("values changed (-want +got):\n%s", diff)
	}
	// startingTime from the values wins over the experiment's start.
	got, err := VersionValues(map[string]any{"startingTime": "2026-01-02T15:03:05Z"}, nil, start, now)
	if err != nil || got["elapsedTimeSeconds"] != int64(151) {
		t.Errorf("startingTime from values: %v %v", got, err)
	}
	if _, err := VersionValues(map[string]any{"startingTime": "yesterday"}, nil, start, now); err == nil || !strings.Contains(err.Error(), `field "values.startingTime": invalid value "yesterday": expected a time in RFC 3339 format`) {
		t.Errorf("bad startingTime: %v", err)
	}
	// a few seconds ahead (another machine's clock) is the shortest window
	if got, err := VersionValues(map[string]any{"startingTime": now.Add(20 * time.Second).Format(time.RFC3339)}, nil, start, now); err != nil || got["elapsedTimeSeconds"] != int64(1) {
		t.Errorf("startingTime 20 s ahead: %v %v", got, err)
	}
	// a time to come makes every window empty: its counts 0, its SLOs passed
	if _, err := VersionValues(map[string]any{"startingTime": "2099-01-01T00:00:00Z"}, nil, start, now); err == nil || !strings.Contains(err.Error(), `field "values.startingTime": invalid value "2099-01-01T00:00:00Z": expected a time that has come`) {
		t.Errorf("startingTime to come: %v", err)
	}
}

const sqlTemplate = `driver: postgres
dsn: "{{ .dsn }}"
metrics:
- name: orders
  type: counter
  query: >
    SELECT count(*) FROM orders
    WHERE version = $1
  args: ["{{ .version }}"]
`

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, builtin, text string
		vals                map[string]any
		want                string
	}{
		{"does not parse", "", "url: {{ .url ", nil, "provider p: template test does not parse: template: p:1: unclosed action"},
		{"does not render", "", "url: {{ .url.host.name }}", map[string]any{"url": "x"}, "provider p: template test does not render: template: p:1:12: executing \"p\" at <.url.host.name>: can't evaluate field host in type interface {}"},
		{"required value", "prometheus", "", map[string]any{"requests": "x_total"}, "provider prometheus: template built-in prometheus does not render: values.prometheusURL is required: the Prometheus base URL, such as http://prometheus:9090"},
		{"template fails", "prometheus", "", map[string]any{"prometheusURL": "http://p"}, "set at least one of values.requests, values.errors, values.latency or values.queries"},
		{"istio response_code", "istio-prom", "", map[string]any{"labels": map[string]any{"response_code": "200"}}, "values.labels.response_code is not allowed"},
		{"knative namespace", "knative", "", map[string]any{"prometheusURL": "http://p", "service": "s"}, "values.namespace is required"},
		{"invalid YAML", "", "url: [unclosed", nil, "renders invalid YAML"},
		{"not a mapping", "", "- a\n- b", nil, "must render a YAML mapping"},
		{"unknown field", "", "url: http://x\nmetrix: []", nil, `renders an invalid spec: unknown field "metrix": did you mean "metrics"?`},
		{"no metrics", "", "url: http://x", nil, `field "metrics" is missing`},
		{"no url", "", "metrics: [{name: a, type: gauge, jqExpression: .}]", nil, `field "url" is missing`},
		{"relative url", "", "url: /api\nmetrics: [{name: a, type: gauge, jqExpression: .}]", nil, `field "url": invalid value "/api": expected an absolute http:// or https:// URL`},
		{"bad method", "", "url: http://x\nmethod: DELETE\nmetrics: [{name: a, type: gauge, jqExpression: .}]", nil, `field "method": invalid value "DELETE": expected GET or POST`},
		{"bad jq", "", "url: http://x\nmetrics: [{name: a, type: gauge, jqExpression: '.data.result[0'}]", nil, `field "metrics[0] (a).jqExpression": invalid value ".data.result[0": expected a valid jq expression (unexpected EOF)`},
		{"missing jq", "", "url: http://x\nmetrics: [{name: a, type: gauge}]", nil, `field "metrics[0] (a).jqExpression" is missing`},
		{"bad type", "", "url: http://x\nmetrics: [{name: a, type: histogram, jqExpression: .}]", nil, `field "metrics[0] (a).type": invalid value "histogram": expected counter or gauge`},
		{"bad name", "", "url: http://x\nmetrics: [{name: a/b, type: gauge, jqExpression: .}]", nil, `field "metrics[0].name": invalid value "a/b"`},
		{"duplicate name", "", "url: http://x\nmetrics: [{name: a, type: gauge, jqExpression: .}, {name: a, type: gauge, jqExpression: .}]", nil, `field "metrics[1] (a).name": invalid value "a": expected a name used once`},
		{"url and driver", "", "url: http://x\ndriver: postgres\nmetrics: [{name: a, type: gauge, query: x}]", nil, `expected either url (a REST provider) or driver and dsn (a SQL provider), not both`},
		{"bad driver", "", "driver: oracle\ndsn: x\nmetrics: [{name: a, type: gauge, query: SELECT 1}]", nil, `field "driver": invalid value "oracle": expected mysql or postgres`},
		{"no dsn", "", "driver: postgres\nmetrics: [{name: a, type: gauge, query: SELECT 1}]", nil, `field "dsn" is missing`},
		{"jq in SQL", "", "driver: postgres\ndsn: x\nmetrics: [{name: a, type: gauge, query: SELECT 1, jqExpression: .}]", nil, `expected no jqExpression, params or body in a SQL provider`},
		{"query in REST", "", "url: http://x\nmetrics: [{name: a, type: gauge, query: SELECT 1, jqExpression: .}]", nil, `expected no query or args in a REST provider`},
		{"SQL built from values", "", strings.Replace(sqlTemplate, "WHERE version = $1", "WHERE version = '{{ .version }}'", 1), map[string]any{"version": "v1' OR '1'='1", "dsn": "x"},
			`field "metrics[0] (orders).query": invalid value "SELECT count(*) FROM orders WHERE version = 'v1' OR '1'='1'\n": expected a query written literally in the template, with values passed as bound parameters in args`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := tt.builtin
			if name == "" {
				name = "p"
			}
			_, err := render(t, name, tt.text, tt.vals)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
		})
	}
	// The same SQL template with the value as a bound parameter is fine.
	spec, err := render(t, "p", sqlTemplate, map[string]any{"version": "v1' OR '1'='1", "dsn": "${env:DSN}"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{"v1' OR '1'='1"}, spec.Metrics[0].Args); diff != "" {
		t.Error(diff)
	}
	// A query written literally in YAML's quoted forms, quotes escaped
	// as YAML escapes them, is literal too.
	for _, q := range []string{
		`'SELECT avg((status = ''failed'')::int) FROM orders WHERE version = $1'`,
		`"SELECT count(*) FROM \"Orders\" WHERE version = $1"`,
		"'SELECT count(*) FROM orders\n    WHERE version = $1'",
	} {
		text := strings.Replace(sqlTemplate, ">\n    SELECT count(*) FROM orders\n    WHERE version = $1", q, 1)
		if _, err := render(t, "p", text, map[string]any{"version": "v1", "dsn": "x"}); err != nil {
			t.Errorf("query %s: %v", q, err)
		}
	}
}

func TestClassifyAndLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "mine.tpl"), []byte("url: http://x\nmetrics: [{name: a, type: gauge, jqExpression: .}]"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/t.tpl" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("url: http://y\nmetrics: [{name: b, type: counter, jqExpression: .}]"))
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	for ref, src := range map[string]string{
		"prometheus":       "built-in prometheus",
		"./mine.tpl":       "./mine.tpl",
		"mine.tpl":         "mine.tpl",
		srv.URL + "/t.tpl": srv.URL + "/t.tpl",
	} {
		tp, err := Load(ctx, "p", ref, dir, srv.Client())
		if err != nil || tp.Source != src {
			t.Errorf("Load(%q): %v %v", ref, tp, err)
		}
	}
	errs := map[string]string{
		"promethus":          `provider p: template "promethus": expected a built-in template (istio-prom, knative, prometheus), a file path (./promethus.tpl) or an http(s) URL`,
		"./missing.tpl":      "provider p: reading template: open " + dir + "/missing.tpl: no such file or directory",
		srv.URL + "/404.tpl": "provider p: fetching template " + srv.URL + "/404.tpl: HTTP 404 Not Found",
	}
	for ref, want := range errs {
		_, err := Load(ctx, "p", ref, dir, srv.Client())
		if err == nil || err.Error() != want {
			t.Errorf("Load(%q):\n got %v\nwant %s", ref, err, want)
		}
	}
	var ve *inputs.ValueError
	if _, err := Classify("nope"); !errors.As(err, &ve) {
		t.Errorf("Classify of an unknown name: %v", err)
	}
}

// A template fetched from a URL may not render a secret reference, however
// it builds one, unless AllowLocalSecrets is set; a local template may.
func TestRemoteTemplateSecretReferences(t *testing.T) {
	t.Parallel()
	const text = `url: http://127.0.0.1:9/q
metrics:
- name: x
  type: gauge
  params: [{name: t, value: '${{ "{" }}file:/var/run/secrets/token}'}, {name: l, value: '$${env:HOME}'}]
  jqExpression: .v
`
	for _, tc := range []struct {
		name          string
		remote, allow bool
		refused       bool
	}{
		{"local", false, false, false},
		{"remote", true, false, true},
		{"remote allowed", true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tp, err := Parse("evil", "http://127.0.0.1:9/evil.tpl", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			tp.remote, tp.AllowLocalSecrets = tc.remote, tc.allow
			_, err = tp.Render(nil)
			const want = "provider evil: template http://127.0.0.1:9/evil.tpl came from a URL and renders the secret reference ${file:/var/run/secrets/token}"
			if tc.refused != (err != nil) || (err != nil && !strings.Contains(err.Error(), want)) {
				t.Errorf("got %v, refused want %v", err, tc.refused)
			}
		})
	}
}
