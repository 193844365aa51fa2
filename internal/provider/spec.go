// Package provider collects custom metrics from any REST API (Prometheus and
// friends) and from SQL databases (PostgreSQL, MySQL) through provider
// templates, in the original Iter8's format.
//
// A provider template is a text/template (with sprig functions) that renders,
// for each version, a provider spec in YAML:
//
//	url: http://prometheus:9090/api/v1/query   # REST providers
//	method: GET                                # GET (default) or POST
//	headers: {Authorization: "Bearer ${env:PROM_TOKEN}"}
//	metrics:
//	- name: error-rate
//	  type: gauge                              # counter or gauge
//	  description: fraction of requests that failed
//	  units: ""                                # optional
//	  params: [{name: query, value: "..."}]    # URL query parameters
//	  body: ""                                 # optional request body
//	  jqExpression: .data.result[0].value[1]   # gojq; a number or numeric string
//
// or, for SQL providers:
//
//	driver: postgres                           # postgres or mysql
//	dsn: ${file:/run/secrets/orders-dsn}
//	metrics:
//	- name: order-count
//	  type: counter
//	  query: SELECT count(*) FROM orders WHERE version = $1 AND created_at >= $2
//	  args: ["{{ .version }}", "{{ .startingTime }}"]
//
// A query that fails (network, HTTP status, SQL error, a jq runtime error) is
// a measurement with status Failed and the reason; a query that succeeds with
// no value (no result, null, NaN, no rows, NULL) has status NoData. Secret
// references (package secret) in url, headers, params, body and dsn are
// resolved only when the query is sent.
package provider

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/itchyny/gojq"

	"iter8.tools/iter8/internal/inputs"
	"iter8.tools/iter8/internal/metrics"
	"iter8.tools/iter8/internal/secret"
)

// Spec is a rendered provider spec: where to query and which metrics.
type Spec struct {
	// Provider is accepted from templates written for the original Iter8 and
	// otherwise ignored: the provider name is the task's templates key.
	Provider string            `json:"provider,omitempty"`
	URL      string            `json:"url,omitempty"`
	Method   string            `json:"method,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Driver   string            `json:"driver,omitempty"`
	DSN      string            `json:"dsn,omitempty"`
	Metrics  []Metric          `json:"metrics"`
}

// Metric is one metric of a spec and how to query it.
type Metric struct {
	Name         string  `json:"name"`
	Description  string  `json:"description,omitempty"`
	Type         string  `json:"type"`
	Units        string  `json:"units,omitempty"`
	Params       []Param `json:"params,omitempty"`
	Body         string  `json:"body,omitempty"`
	JQExpression string  `json:"jqExpression,omitempty"`
	Query        string  `json:"query,omitempty"`
	Args         []any   `json:"args,omitempty"`

	jq *gojq.Code
}

// Param is a URL query parameter.
type Param struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Drivers are the SQL drivers a spec may name.
var Drivers = []string{"mysql", "postgres"}

// IsSQL reports whether the spec queries a SQL database.
func (s *Spec) IsSQL() bool { return s.Driver != "" }

// Meta returns the metric's description, type and units as recorded in
// insights.
func (m *Metric) Meta() metrics.Meta {
	t := metrics.Gauge
	if strings.EqualFold(m.Type, "counter") {
		t = metrics.Counter
	}
	return metrics.Meta{Description: strings.TrimSpace(m.Description), Units: m.Units, Type: t}
}

// check validates a decoded spec and compiles its jq expressions. raw is the
// template's text: SQL queries must appear in it literally.
func (s *Spec) check(raw string) error {
	if len(s.Metrics) == 0 {
		return &inputs.FieldError{Field: "metrics", Missing: true, Expected: "a list of metrics, each with name, type and jqExpression (REST) or query (SQL)"}
	}
	switch {
	case s.URL != "" && s.Driver != "":
		return &inputs.FieldError{Field: "driver", Value: s.Driver, Expected: "either url (a REST provider) or driver and dsn (a SQL provider), not both"}
	case s.URL == "" && s.Driver == "":
		return &inputs.FieldError{Field: "url", Missing: true, Expected: "the URL to query, such as http://prometheus:9090/api/v1/query (or driver and dsn for a SQL provider)"}
	case s.IsSQL():
		if err := s.checkSQL(); err != nil {
			return err
		}
	default:
		if err := s.checkREST(); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	norm := normalizeSpace(raw)
	for i := range s.Metrics {
		m := &s.Metrics[i]
		field := fmt.Sprintf("metrics[%d]", i)
		if !metrics.ValidSegment(m.Name) {
			return &inputs.FieldError{Field: field + ".name", Value: m.Name, Expected: "a name made of letters, digits, '.', '_' and '-' (it becomes <provider>/<name>)"}
		}
		field += " (" + m.Name + ")"
		if seen[m.Name] {
			return &inputs.FieldError{Field: field + ".name", Value: m.Name, Expected: "a name used once"}
		}
		seen[m.Name] = true
		if !strings.EqualFold(m.Type, "counter") && !strings.EqualFold(m.Type, "gauge") {
			return &inputs.FieldError{Field: field + ".type", Value: m.Type, Expected: "counter or gauge"}
		}
		if s.IsSQL() {
			if err := m.checkSQL(field, norm); err != nil {
				return err
			}
			continue
		}
		if err := m.checkREST(field); err != nil {
			return err
		}
	}
	return nil
}

func (s *Spec) checkREST() error {
	if s.DSN != "" {
		return &inputs.FieldError{Field: "dsn", Value: s.DSN, Expected: "no dsn in a REST provider (set driver for a SQL provider)"}
	}
	if !secret.Contains(s.URL) {
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &inputs.FieldError{Field: "url", Value: s.URL, Expected: "an absolute http:// or https:// URL"}
		}
	}
	switch strings.ToUpper(s.Method) {
	case "":
		s.Method = "GET"
	case "GET", "POST":
		s.Method = strings.ToUpper(s.Method)
	default:
		return &inputs.FieldError{Field: "method", Value: s.Method, Expected: "GET or POST"}
	}
	return nil
}

func (s *Spec) checkSQL() error {
	d := strings.ToLower(s.Driver)
	if d == "postgresql" || d == "pgx" {
		d = "postgres"
	}
	valid := false
	for _, x := range Drivers {
		valid = valid || d == x
	}
	if !valid {
		return &inputs.FieldError{Field: "driver", Value: s.Driver, Expected: strings.Join(Drivers, " or ")}
	}
	s.Driver = d
	if s.DSN == "" {
		return &inputs.FieldError{Field: "dsn", Missing: true, Expected: "the data source name, best a secret reference such as ${env:ORDERS_DSN} or ${file:/run/secrets/dsn}"}
	}
	if s.Method != "" {
		return &inputs.FieldError{Field: "method", Value: s.Method, Expected: "no method in a SQL provider"}
	}
	if len(s.Headers) > 0 {
		return &inputs.FieldError{Field: "headers", Value: "…", Expected: "no headers in a SQL provider"}
	}
	return nil
}

func (m *Metric) checkREST(field string) error {
	if m.Query != "" || len(m.Args) > 0 {
		return &inputs.FieldError{Field: field + ".query", Value: m.Query, Expected: "no query or args in a REST provider: use params, body and jqExpression (or set driver and dsn for SQL)"}
	}
	if strings.TrimSpace(m.JQExpression) == "" {
		return &inputs.FieldError{Field: field + ".jqExpression", Missing: true, Expected: "a jq expression that extracts the number from the response, such as .data.result[0].value[1]"}
	}
	q, err := gojq.Parse(m.JQExpression)
	if err != nil {
		return &inputs.FieldError{Field: field + ".jqExpression", Value: m.JQExpression, Expected: "a valid jq expression (" + err.Error() + ")"}
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return &inputs.FieldError{Field: field + ".jqExpression", Value: m.JQExpression, Expected: "a valid jq expression (" + err.Error() + ")"}
	}
	m.jq = code
	for j, p := range m.Params {
		if p.Name == "" {
			return &inputs.FieldError{Field: fmt.Sprintf("%s.params[%d].name", field, j), Missing: true, Expected: "the query parameter's name"}
		}
	}
	return nil
}

func (m *Metric) checkSQL(field, template string) error {
	if m.JQExpression != "" || len(m.Params) > 0 || m.Body != "" {
		return &inputs.FieldError{Field: field + ".jqExpression", Value: m.JQExpression, Expected: "no jqExpression, params or body in a SQL provider: use query and args"}
	}
	if strings.TrimSpace(m.Query) == "" {
		return &inputs.FieldError{Field: field + ".query", Missing: true, Expected: "a SQL query returning one number, with values passed as bound parameters in args"}
	}
	// Values reach SQL only as bound parameters: a query that the template
	// built from values does not appear literally in the template's text
	// (as it is, or in YAML's single- or double-quoted spelling).
	if !writtenIn(template, m.Query) {
		return &inputs.FieldError{Field: field + ".query", Value: m.Query, Expected: "a query written literally in the template, with values passed as bound parameters in args ($1, $2 … for postgres, ? for mysql), never built from values"}
	}
	return nil
}

func normalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// writtenIn reports whether query q appears in the template text norm (its
// white space normalised) as it is, or quoted as YAML quotes a string: in
// single quotes with each ' doubled, or in double quotes with JSON's
// escapes (a subset of YAML's).
func writtenIn(norm, q string) bool {
	single := "'" + strings.ReplaceAll(q, "'", "''") + "'"
	var double strings.Builder
	enc := json.NewEncoder(&double)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(q)
	for _, form := range []string{q, single, double.String()} {
		if f := normalizeSpace(form); f != "" && strings.Contains(norm, f) {
			return true
		}
	}
	return false
}
