package task

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"iter8.tools/iter8/internal/experiment"
	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/provider"
	"iter8.tools/iter8/internal/slo"
	"iter8.tools/iter8/internal/source"
)

// customMetricsInputs are the custommetrics task's inputs (compat section
// 3.4, plus versionNames and timeout).
type customMetricsInputs struct {
	// Templates maps provider names to templates: a built-in name, a file
	// path (relative to the run directory) or an http(s) URL.
	Templates map[string]string `json:"templates"`
	// Values are the template values of every version.
	Values map[string]any `json:"values,omitempty"`
	// VersionValues holds, per version, values merged over Values; its length
	// is the number of versions (default 1).
	VersionValues []map[string]any `json:"versionValues,omitempty"`
	// VersionNames names the versions (default: each version's
	// versionValues.versionName, if set).
	VersionNames []string `json:"versionNames,omitempty"`
	// Timeout bounds each query and each template download.
	Timeout *inputs.Duration `json:"timeout,omitempty"`
	// AllowLocalSecrets lets templates fetched from a URL render secret
	// references; iter8 gen and launch set it only with
	// --allow-local-secrets.
	AllowLocalSecrets bool `json:"allowLocalSecrets,omitempty"`
}

type customMetricsTask struct {
	in    customMetricsInputs
	names []string // provider names, sorted
}

func newCustomMetrics(with map[string]any) (experiment.Task, error) {
	t := &customMetricsTask{}
	if err := inputs.Decode(with, &t.in); err != nil {
		return nil, err
	}
	in := &t.in
	if len(in.Templates) == 0 {
		return nil, &inputs.FieldError{Field: "templates", Missing: true, Expected: "a map from provider name to template: a built-in name (" + strings.Join(provider.BuiltinNames(), ", ") + "), a file path or an http(s) URL, such as {prom: prometheus}"}
	}
	for name, ref := range in.Templates {
		if _, err := metrics.ParseName(name + "/x"); err != nil || strings.Contains(name, "/") {
			return nil, &inputs.FieldError{Field: "templates", Value: name, Expected: "provider names made of letters, digits, '.', '_' and '-' (they become metric names <provider>/<metric>)"}
		}
		if _, err := provider.Classify(ref); err != nil {
			fe := &inputs.FieldError{Field: "templates." + name, Value: ref, Expected: strings.TrimPrefix(err.Error(), "expected ")}
			if s := closestBuiltin(ref); s != "" {
				fe.Expected = fmt.Sprintf("%s; did you mean %q?", fe.Expected, s)
			}
			return nil, fe
		}
		t.names = append(t.names, name)
	}
	sort.Strings(t.names)
	if len(in.VersionNames) > 0 && len(in.VersionNames) != t.versions() {
		return nil, &inputs.FieldError{Field: "versionNames", Value: in.VersionNames, Expected: fmt.Sprintf("one name per version: %d (the length of versionValues)", t.versions())}
	}
	if err := checkSecretValues("values", in.Values); err != nil {
		return nil, err
	}
	for i, vv := range in.VersionValues {
		if vv == nil {
			// (--set versionValues[1].x=y alone leaves entry 0 empty)
			return nil, &inputs.FieldError{Field: fmt.Sprintf("versionValues[%d]", i), Value: nil, Expected: "the values of a version, such as {version: v1}: every version up to the last needs its own"}
		}
		if err := checkSecretValues(fmt.Sprintf("versionValues[%d]", i), vv); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	if _, err := provider.VersionValues(in.Values, nil, now, now); err != nil {
		return nil, err
	}
	for i, vv := range in.VersionValues {
		if _, err := provider.VersionValues(vv, nil, now, now); err != nil {
			var fe *inputs.FieldError
			if errors.As(err, &fe) {
				fe.Field = fmt.Sprintf("versionValues[%d].startingTime", i)
			}
			return nil, err
		}
	}
	if in.Timeout == nil {
		in.Timeout = &inputs.Duration{Duration: provider.DefaultTimeout}
	}
	if in.Timeout.Duration <= 0 {
		return nil, &inputs.FieldError{Field: "timeout", Value: in.Timeout.String(), Expected: "a positive duration such as 30s"}
	}
	return t, nil
}

func closestBuiltin(ref string) string {
	return inputs.Closest(ref, provider.BuiltinNames())
}

func (t *customMetricsTask) Inputs() any { return t.in }

func (t *customMetricsTask) versions() int { return max(1, len(t.in.VersionValues)) }

// versionNames returns the names of the versions, or nil when none is named.
func (t *customMetricsTask) versionNames() []experiment.VersionInfo {
	out := make([]experiment.VersionInfo, t.versions())
	named := false
	for i := range out {
		switch {
		case len(t.in.VersionNames) > 0:
			out[i].Version = t.in.VersionNames[i]
		case i < len(t.in.VersionValues):
			if s, ok := t.in.VersionValues[i]["versionName"].(string); ok {
				out[i].Version = s
			}
		}
		named = named || out[i].Version != ""
	}
	if !named {
		return nil
	}
	return out
}

// query is one provider's spec for one version.
type query struct {
	provider string
	version  int
	spec     *provider.Spec
}

// Run renders every template for every version first, so that a broken
// template fails the task before any query is sent, then queries each
// metric and records its value, or why it has none.
func (t *customMetricsTask) Run(ctx context.Context, env *experiment.Env) error {
	now := env.Now
	if now == nil {
		now = time.Now
	}
	res := env.Experiment.Result
	in, err := res.InitInsights(t.versions(), t.versionNames())
	if err != nil {
		return err
	}
	timeout := t.in.Timeout.Duration
	fetcher := &http.Client{Timeout: timeout, CheckRedirect: source.CheckRedirect}
	var queries []query
	for _, name := range t.names {
		tp, err := provider.Load(ctx, name, t.in.Templates[name], env.Dir, fetcher)
		if err != nil {
			return err
		}
		tp.AllowLocalSecrets = t.in.AllowLocalSecrets
		for v := range t.versions() {
			var over map[string]any
			if v < len(t.in.VersionValues) {
				over = t.in.VersionValues[v]
			}
			vals, err := provider.VersionValues(t.in.Values, over, res.StartTime, now())
			if err != nil {
				return err
			}
			spec, err := tp.Render(vals)
			if err != nil {
				if t.versions() > 1 {
					return fmt.Errorf("%s: %w", in.VersionLabel(v), err)
				}
				return err
			}
			queries = append(queries, query{provider: name, version: v, spec: spec})
		}
	}
	client := &provider.Client{Timeout: timeout}
	counts := map[provider.Status]int{}
	for _, q := range queries {
		for _, m := range q.spec.Metrics {
			env.Logger.Debug("querying", "provider", q.provider, "version", q.version, "metric", m.Name, "target", target(q.spec), "params", m.Params, "query", m.Query, "args", m.Args)
		}
		ms, err := client.Collect(ctx, q.spec)
		if err != nil {
			return err
		}
		for _, m := range ms {
			name := q.provider + "/" + m.Metric.Name
			meta := m.Metric.Meta()
			counts[m.Status]++
			switch m.Status {
			case provider.OK:
				err = in.SetValue(name, meta, q.version, m.Value)
			case provider.NoData:
				env.Logger.Warn("no data", "metric", name, "version", in.VersionLabel(q.version), "reason", m.Reason)
				err = in.SetMissing(name, meta, q.version, slo.NoData, m.Reason)
			default:
				env.Logger.Warn("query failed", "metric", name, "version", in.VersionLabel(q.version), "reason", m.Reason)
				err = in.SetMissing(name, meta, q.version, slo.Error, m.Reason)
			}
			if err != nil {
				return err
			}
		}
	}
	env.Logger.Info("custom metrics collected", "providers", len(t.names), "versions", t.versions(),
		"values", counts[provider.OK], "noData", counts[provider.NoData], "errors", counts[provider.Failed])
	return nil
}

// target describes where a spec sends its queries, secrets unresolved.
func target(s *provider.Spec) string {
	if s.IsSQL() {
		return s.Driver
	}
	return s.Method + " " + s.URL
}

// checkSecretValues refuses secret-looking template values (a token, a
// password, a DSN) given as they are rather than as references.
func checkSecretValues(field string, m map[string]any) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch v := m[k].(type) {
		case string:
			if err := checkSecrets(field, map[string]string{k: v}); err != nil {
				return err
			}
		case map[string]any:
			if err := checkSecretValues(field+"."+k, v); err != nil {
				return err
			}
		}
	}
	return nil
}
