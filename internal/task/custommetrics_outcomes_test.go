package task

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/slo"
)

func TestCustomMetricsInputErrors(t *testing.T) {
	t.Parallel()
	wantInputErrors(t, newCustomMetrics, []inputCase{
		{"no templates", map[string]any{}, `field "templates" is missing: expected a map from provider name to template: a built-in name (istio-prom, knative, prometheus), a file path or an http(s) URL`},
		{"unknown built-in", map[string]any{"templates": map[string]any{"p": "promethus"}}, `field "templates.p": invalid value "promethus": expected a built-in template (istio-prom, knative, prometheus), a file path (./promethus.tpl) or an http(s) URL; did you mean "prometheus"?`},
		{"bad provider name", map[string]any{"templates": map[string]any{"a/b": "prometheus"}}, `field "templates": invalid value "a/b": expected provider names made of letters`},
		{"version names", map[string]any{"templates": map[string]any{"p": "prometheus"}, "versionValues": []any{map[string]any{}, map[string]any{}}, "versionNames": []any{"only-one"}}, `field "versionNames": invalid value ["only-one"]: expected one name per version: 2`},
		{"starting time", map[string]any{"templates": map[string]any{"p": "prometheus"}, "values": map[string]any{"startingTime": "noon"}}, `field "values.startingTime": invalid value "noon": expected a time in RFC 3339 format`},
		{"version starting time", map[string]any{"templates": map[string]any{"p": "prometheus"}, "versionValues": []any{map[string]any{"startingTime": 5.0}}}, `field "versionValues[0].startingTime": invalid value 5`},
		{"version starting time to come", map[string]any{"templates": map[string]any{"p": "prometheus"}, "versionValues": []any{map[string]any{"startingTime": "2099-01-01T00:00:00Z"}}}, `field "versionValues[0].startingTime": invalid value "2099-01-01T00:00:00Z": expected a time that has come`},
		{"a version left empty", map[string]any{"templates": map[string]any{"p": "prometheus"}, "versionValues": []any{nil, map[string]any{"version": "v2"}}}, `field "versionValues[0]": invalid value null: expected the values of a version`},
		{"versions not a list", map[string]any{"templates": map[string]any{"p": "prometheus"}, "versionValues": "abc"}, `field "versionValues": invalid value "abc": expected a list of maps`},
		{"timeout", map[string]any{"templates": map[string]any{"p": "prometheus"}, "timeout": "0s"}, `field "timeout": invalid value "0s": expected a positive duration`},
		{"unknown field", map[string]any{"templates": map[string]any{"p": "prometheus"}, "value": map[string]any{}}, `unknown field "value": did you mean "values"?`},
	})
}

// Each way a custom metric can go wrong gives its documented outcome and
// message: a failed query and no data are recorded (the task completes); a
// bad jq expression and a template that does not render fail the task; an
// unknown built-in is invalid input (nothing runs).
func TestCustomMetricsOutcomes(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/empty":
			_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
		case "/inf":
			// histogram_quantile above the largest finite bucket
			_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"+Inf"]}]}}`)
		case "/error":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "overloaded")
		default:
			_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]}}`)
		}
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	metric := func(url, jq string) string {
		return "url: " + url + "\nmetrics:\n- name: m\n  type: gauge\n  params: [{name: query, value: up}]\n  jqExpression: '" + jq + "'\n"
	}
	write("ok.tpl", metric(srv.URL+"/ok", ".data.result[0].value[1]"))
	write("empty.tpl", metric(srv.URL+"/empty", ".data.result[0].value[1]"))
	write("error.tpl", metric(srv.URL+"/error", ".data.result[0].value[1]"))
	write("inf.tpl", metric(srv.URL+"/inf", ".data.result[0].value[1]"))
	write("badjq.tpl", metric(srv.URL+"/ok", ".data.result[0"))
	write("norender.tpl", `url: {{ required "values.promURL is required" .promURL }}`)
	const jq = `jq expression ".data.result[0].value[1]" returned null`

	tests := []struct {
		name, tpl, onNoData string
		invalid             bool   // the experiment is invalid input
		failure             string // the task fails with this reason
		outcome             slo.Outcome
		assert              string // the assert message, "" when the SLO holds
		note                string
	}{
		{name: "value", tpl: "ok.tpl", outcome: slo.Passed},
		{name: "query failure", tpl: "error.tpl", outcome: slo.Error,
			assert: "slos: SLO p/m <= 1 is not satisfied by version 0: its query failed (GET " + srv.URL + "/error: HTTP 503 Service Unavailable: overloaded)"},
		{name: "query failure is never ignored", tpl: "error.tpl", onNoData: "ignore", outcome: slo.Error,
			assert: "its query failed (GET " + srv.URL + "/error: HTTP 503 Service Unavailable: overloaded)"},
		{name: "no data fails", tpl: "empty.tpl", outcome: slo.NoData,
			assert: "slos: SLO p/m <= 1 is not satisfied by version 0: no data (" + jq + ")"},
		{name: "no data ignored", tpl: "empty.tpl", onNoData: "ignore", outcome: slo.NoData,
			note: "slos: SLO p/m <= 1 has no data for version 0 (" + jq + "); ignored because its onNoData is ignore"},
		// (+Inf was no data, and onNoData: ignore passed a service too
		// slow for the largest bucket)
		{name: "infinity is never ignored", tpl: "inf.tpl", onNoData: "ignore", outcome: slo.Error,
			assert: `slos: SLO p/m <= 1 is not satisfied by version 0: its query failed (jq expression ".data.result[0].value[1]" returned +Inf, which cannot be judged`},
		{name: "bad jq expression", tpl: "badjq.tpl",
			failure: `task 1 (custommetrics) failed: provider p: template badjq.tpl renders an invalid spec: field "metrics[0] (m).jqExpression": invalid value ".data.result[0": expected a valid jq expression (unexpected EOF)`},
		{name: "template does not render", tpl: "norender.tpl",
			failure: "task 1 (custommetrics) failed: provider p: template norender.tpl does not render: values.promURL is required"},
		{name: "missing template file", tpl: "missing.tpl",
			failure: "task 1 (custommetrics) failed: provider p: reading template: open " + dir + "/missing.tpl: no such file or directory"},
		{name: "unknown built-in", tpl: "istio", invalid: true,
			failure: `task 1 (custommetrics): field "templates.p": invalid value "istio": expected a built-in template (istio-prom, knative, prometheus), a file path (./istio.tpl) or an http(s) URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			onNoData := ""
			if tt.onNoData != "" {
				onNoData = ", onNoData: " + tt.onNoData
			}
			spec := "spec:\n- task: custommetrics\n  with: {templates: {p: " + tt.tpl + "}}\n- task: assess\n  with: {SLOs: {upper: [{metric: p/m, limit: 1" + onNoData + "}]}}\n"
			exp, logs, err := runExperiment(t, dir, spec)
			switch {
			case tt.invalid:
				if !errors.Is(err, inputs.ErrInvalid) || err.Error() != tt.failure {
					t.Fatalf("error %v\nwant ErrInvalid: %s", err, tt.failure)
				}
				return
			case tt.failure != "":
				if !errors.Is(err, experiment.ErrFailed) || exp.Result.FailureReason != tt.failure {
					t.Fatalf("error %v, reason\n%s\nwant\n%s", err, exp.Result.FailureReason, tt.failure)
				}
				return
			case err != nil:
				t.Fatalf("%v\n%s", err, logs)
			}
			v := exp.Result.Insights.SLOVerdicts[0].Versions[0]
			if v.Outcome != tt.outcome {
				t.Errorf("outcome %s (%s), want %s", v.Outcome, v.Reason, tt.outcome)
			}
			msgs := exp.Check([]experiment.Assertion{experiment.AssertSLOs})
			if (tt.assert == "") != (len(msgs) == 0) || (tt.assert != "" && !strings.Contains(msgs[0], tt.assert)) {
				t.Errorf("assert messages %q, want %q", msgs, tt.assert)
			}
			if notes := exp.Notes(); strings.Join(notes, "") != tt.note {
				t.Errorf("notes %q, want %q", notes, tt.note)
			}
			if tt.tpl == "error.tpl" && !strings.Contains(logs, `msg="query failed" task=1 name=custommetrics metric=p/m version="version 0" reason="GET `+srv.URL+`/error: HTTP 503`) {
				t.Errorf("the failure is not logged:\n%s", logs)
			}
		})
	}
}

func TestAssessOnNoDataInput(t *testing.T) {
	t.Parallel()
	_, err := newAssess(map[string]any{"SLOs": map[string]any{"lower": []any{map[string]any{"metric": "p/m", "limit": 1.0, "onNoData": "skip"}}}})
	want := `field "SLOs.lower[0].onNoData": invalid value "skip": expected fail (the default: no data fails the SLO) or ignore (no data is reported but does not fail the experiment)`
	if err == nil || !errors.Is(err, inputs.ErrInvalid) || err.Error() != want {
		t.Errorf("error %v\nwant %s", err, want)
	}
}
